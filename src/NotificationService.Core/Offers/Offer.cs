namespace NotificationService.Core.Offers;

/// <summary>What a client asked for; each target became one job with its own event stream.</summary>
public sealed class Offer
{
    public Guid Id { get; set; }
    public Guid ServiceId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ExpireAt { get; set; }
    public DateTimeOffset? SendAt { get; set; }
    public Dictionary<string, string>? Metadata { get; set; }
    public List<OfferJob> Jobs { get; set; } = [];
}

public sealed record OfferJob(Guid JobId, Guid AdapterId, string Adapter);
