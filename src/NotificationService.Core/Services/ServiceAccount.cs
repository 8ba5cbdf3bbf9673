namespace NotificationService.Core.Services;

public enum ServiceStatus { Active, Blocked }

/// <summary>A client service (tenant) of the notification service.</summary>
public sealed class ServiceAccount
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public ServiceStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One API key of a service; the document id is the key's SHA-256 hash, so a request finds it in one lookup.</summary>
public sealed class ServiceKey
{
    public string Id { get; set; } = "";
    public Guid KeyId { get; set; }
    public Guid ServiceId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}
