namespace NotificationService.Core.Services;

public enum ServiceStatus { Active, Blocked }

// A service's stream is its admin history; the ServiceAccount document is its inline projection. The features that set
// per-service things (limits, retention) keep their events and values beside it (ServiceLimits.cs, ServiceRetention.cs),
// so this folder uses none of theirs and they, and authentication, build on it.
public sealed record ServiceRegistered(Guid ServiceId, string Name, string By, DateTimeOffset At);
public sealed record ServiceRenamed(Guid ServiceId, string Name, string By, DateTimeOffset At);
public sealed record ServiceBlocked(Guid ServiceId, string By, DateTimeOffset At);
public sealed record ServiceUnblocked(Guid ServiceId, string By, DateTimeOffset At);
public sealed record ServiceKeyIssued(Guid ServiceId, Guid KeyId, string Prefix, string By, DateTimeOffset At);
public sealed record ServiceKeyRevoked(Guid ServiceId, Guid KeyId, string By, DateTimeOffset At);

/// <summary>A client service (tenant) of the notification service.</summary>
public sealed class ServiceAccount
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public ServiceStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<ServiceKeyInfo> Keys { get; set; } = [];
    /// <summary>The retention the admin set for this service (null fields: the configured defaults).</summary>
    public ServiceRetention Retention { get; set; } = new();
    /// <summary>The limits the admin set for this service; a null field means the configured default.</summary>
    public ServiceLimits Limits { get; set; } = new();
    [Marten.Schema.Version] public long Version { get; set; }

    public void Apply(ServiceRegistered e) => (Id, Name, Status, CreatedAt) = (e.ServiceId, e.Name, ServiceStatus.Active, e.At);
    public void Apply(ServiceRenamed e) => Name = e.Name;
    public void Apply(ServiceBlocked e) => Status = ServiceStatus.Blocked;
    public void Apply(ServiceUnblocked e) => Status = ServiceStatus.Active;
    public void Apply(ServiceLimitsChanged e) => Limits = e.Limits;
    public void Apply(ServiceKeyIssued e) => Keys.Add(new ServiceKeyInfo(e.KeyId, e.Prefix, e.At, null));
    public void Apply(ServiceKeyRevoked e) =>
        Keys = Keys.Select(k => k.KeyId == e.KeyId ? k with { RevokedAt = e.At } : k).ToList();
    public void Apply(ServiceRetentionSet e) => Retention = e.Retention;
}

/// <summary>What the admin may see of a key: never the key or its hash, only a short prefix to recognise it by.</summary>
public sealed record ServiceKeyInfo(Guid KeyId, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>
/// A live service key, found in one lookup by its id: the key's SHA-256 hash. Deleted when the key is revoked.
/// </summary>
public sealed class ServiceKey
{
    public string Id { get; set; } = "";
    public Guid KeyId { get; set; }
    public Guid ServiceId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }

    /// <summary>A new key for a service: the document to store, its event, and the key itself (shown once).</summary>
    public static (ServiceKey Document, ServiceKeyIssued Issued, string ApiKey) Issue(Guid serviceId, string by, DateTimeOffset now)
    {
        var apiKey = Storage.ApiKeys.New(Storage.ApiKeys.ServicePrefix);
        var key = new ServiceKey { Id = Storage.ApiKeys.Hash(apiKey), KeyId = Guid.NewGuid(), ServiceId = serviceId, CreatedAt = now };
        return (key, new ServiceKeyIssued(serviceId, key.KeyId, apiKey[..8], by, now), apiKey);
    }
}
