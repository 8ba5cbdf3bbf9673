using System.Text.Json;

namespace NotificationService.Storage.Adapters;

// An adapter's stream is its admin history: who changed what, when. Config in these events has its secrets encrypted.

public sealed record AdapterRegistered(
    Guid AdapterId, string Name, string Type, JsonElement Config, string ParamsSchema, string Queue, string KeyHash,
    DeliveryPolicy Policy, IReadOnlyList<Guid> AllowedServices, string By, DateTimeOffset At);

/// <summary>Null fields are unchanged.</summary>
public sealed record AdapterReconfigured(
    Guid AdapterId, JsonElement? Config, string? ParamsSchema, DeliveryPolicy? Policy, IReadOnlyList<Guid>? AllowedServices, string By, DateTimeOffset At);

public sealed record AdapterBlocked(Guid AdapterId, string By, DateTimeOffset At);

public sealed record AdapterUnblocked(Guid AdapterId, string By, DateTimeOffset At);

public sealed record AdapterDeleted(Guid AdapterId, string By, DateTimeOffset At);
