using System.Text.Json.Serialization;

namespace NotificationService.Core.Offers;

/// <summary>
/// What a client asked for; each target became one job with its own event stream. Its stored JSON leaves out members that
/// are null, as the job's does (<see cref="NotificationService.Storage.Jobs.Job"/>): a missing key reads as null.
/// </summary>
public sealed class Offer
{
    public Guid Id { get; set; }
    public Guid ServiceId { get; set; }
    /// <summary>In UTC, which Npgsql requires of a timestamptz column (<see cref="OfferStorage"/>).</summary>
    public DateTimeOffset CreatedAt { get => _createdAt; set => _createdAt = value.ToUniversalTime(); }
    private DateTimeOffset _createdAt;
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ExpireAt { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? SendAt { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Dictionary<string, string>? Metadata { get; set; }
    /// <summary>Where this offer's job events go instead of the service's callback URLs (with those callbacks' events and secrets).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? CallbackUrl { get; set; }
    public List<OfferJob> Jobs { get; set; } = [];
    /// <summary>The fallback chains of the targets that have one (README "Fallback chains"); their later steps' jobs are in <see cref="Jobs"/> once created.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<FallbackChain>? Chains { get; set; }
    /// <summary>Set by DELETE: the offer's unfinished jobs were canceled; its history stays readable.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? DeletedAt { get; set; }
    /// <summary>Set when its jobs' params and its metadata were erased (POST .../erase, or the retention sweep).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ErasedAt { get; set; }
}

/// <summary><see cref="Template"/>: what its params were rendered from at accept time; null for params given as they are.</summary>
public sealed record OfferJob(Guid JobId, Guid AdapterId, string Adapter, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TemplateUse? Template = null);

/// <summary>
/// The template key, version and locale a job's params were rendered from (a later edit of the template changes none of them). <see cref="TemplateId"/> tells two templates of one key apart (after
/// a delete the key may name a new template whose versions start at 1 again); null on offers stored before it was kept.
/// </summary>
public sealed record TemplateUse(string Key, long Version, string Locale, bool Shared = false, Guid? TemplateId = null);
