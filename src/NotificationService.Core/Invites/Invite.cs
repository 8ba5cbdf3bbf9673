namespace NotificationService.Core.Invites;

/// <summary>
/// A one-time, expiring self-registration code. The document id is the code's SHA-256 hash (the code itself is shown
/// once); optimistic concurrency makes two registrations racing on one code end with one service, not two.
/// </summary>
public sealed class Invite
{
    public string Id { get; set; } = "";
    public Guid InviteId { get; set; }
    public string? Note { get; set; }
    public string CreatedBy { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset? UsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public Guid? ServiceId { get; set; }
}
