using System.Text.Json;
using System.Text.Json.Serialization;

namespace NotificationService.Client;

/// <summary>The states of a job; <c>Finished</c>, <c>Failed</c>, <c>Expired</c> and <c>Canceled</c> are final.</summary>
public enum JobState { Scheduled, Queued, Started, Finished, Failed, Expired, Canceled }

/// <summary>A notification to send: one job per target.</summary>
/// <param name="Targets">where to send it; each target's params must match its adapter's params schema (see <see cref="NotificationClient.ListAdaptersAsync"/>)</param>
public sealed record CreateOfferRequest(IReadOnlyList<OfferTarget> Targets)
{
    /// <summary>A job not started by then ends <c>Expired</c> and is never sent (default: the adapter's policy).</summary>
    public DateTimeOffset? ExpireAt { get; init; }
    /// <summary>In the future: the jobs wait <c>Scheduled</c> until then.</summary>
    public DateTimeOffset? SendAt { get; init; }
    /// <summary>Free key/value pairs kept with the offer, shown in callbacks and searchable (<c>metadata.&lt;key&gt;</c>).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>This offer's job events go to this URL instead of the service's callback URLs (with their event sets and secrets); the service
    /// needs a callback registered.</summary>
    public string? CallbackUrl { get; init; }
}

/// <summary>One target of an offer: params as they are, or a template rendered with data (<see cref="FromTemplate"/>).</summary>
/// <param name="Adapter">the adapter's name</param>
/// <param name="Params">an object matching the adapter's params schema: an anonymous object, a dictionary, a JsonElement or JsonNode.
/// Property names of a .NET object are written in camelCase; use a dictionary or JSON for exact keys. Null with a template.</param>
public sealed record OfferTarget(string Adapter, object? Params)
{
    /// <summary>Instead of params: the key of a template of the adapter's type.</summary>
    public string? Template { get; init; }
    /// <summary>With a template: the locale (falls back to its language, then the template's default).</summary>
    public string? Locale { get; init; }
    /// <summary>With a template: its variables.</summary>
    public object? Data { get; init; }
    /// <summary>Steps tried in order when this target's job ends Failed or Expired, or is not Finished within <see cref="FallbackAfterSeconds"/> (at most 5).</summary>
    public IReadOnlyList<FallbackStep>? Fallback { get; init; }
    /// <summary>1 to 604800: fall back when a step's job is not Finished this long after it was queued (it is canceled first).</summary>
    public int? FallbackAfterSeconds { get; init; }

    public static OfferTarget FromTemplate(string adapter, string template, object? data, string? locale = null) =>
        new(adapter, null) { Template = template, Data = data, Locale = locale };
}

/// <summary>One step of a target's fallback chain: an adapter and params matching its schema, or a template (<see cref="FromTemplate"/>).</summary>
public sealed record FallbackStep(string Adapter, object? Params)
{
    /// <summary>Instead of params: the key of a template of the adapter's type.</summary>
    public string? Template { get; init; }
    /// <summary>With a template: the locale.</summary>
    public string? Locale { get; init; }
    /// <summary>With a template: its variables.</summary>
    public object? Data { get; init; }

    public static FallbackStep FromTemplate(string adapter, string template, object? data, string? locale = null) =>
        new(adapter, null) { Template = template, Data = data, Locale = locale };
}

public sealed record AcceptedJob(Guid Id, string Adapter, JobState State);

/// <summary>202: the offer and its jobs are stored and on their way.</summary>
public sealed record OfferAccepted(Guid Id, IReadOnlyList<AcceptedJob> Jobs);

/// <param name="Templates">for each job rendered from a template: key, version and locale used</param>
public sealed record OfferView(
    Guid Id, DateTimeOffset CreatedAt, DateTimeOffset? ExpireAt, DateTimeOffset? SendAt, IReadOnlyDictionary<string, string>? Metadata,
    DateTimeOffset? DeletedAt, IReadOnlyList<JobView> Jobs, IReadOnlyList<JobTemplateView>? Templates = null, IReadOnlyList<ChainView>? Chains = null);

/// <summary>A target's fallback chain; <see cref="Outcome"/> once it ended: Finished, Canceled, Exhausted, Expired, Deleted or Erased.</summary>
public sealed record ChainView(int Target, int? FallbackAfterSeconds, IReadOnlyList<ChainStepView> Steps, DateTimeOffset? EndedAt, string? Outcome);

/// <summary>One step (0: the target itself): the job it created and its state (or NotStarted, Skipped), and why it started or was skipped.</summary>
public sealed record ChainStepView(int Step, string Adapter, Guid? JobId, string? JobAdapter, string State, string? Reason, DateTimeOffset? At);

public sealed record OfferSummary(Guid Id, DateTimeOffset CreatedAt, DateTimeOffset? SendAt, DateTimeOffset? DeletedAt, int Jobs);

/// <summary>
/// A change to an offer; what is left null stays as it is. Params, expiry and send time change only before a job starts
/// (409 after). <see cref="Metadata"/> is a merge patch: a key with a null value is removed, keys left out stay.
/// </summary>
public sealed record UpdateOfferRequest
{
    public DateTimeOffset? ExpireAt { get; init; }
    public DateTimeOffset? SendAt { get; init; }
    public IReadOnlyDictionary<string, string?>? Metadata { get; init; }
    public IReadOnlyList<JobParamsChange>? Jobs { get; init; }
}

/// <summary>New params for one job of the offer.</summary>
public sealed record JobParamsChange(Guid Id, object Params);

/// <summary>202: every unfinished job is canceled (or, being sent, asked to stop) and the offer marked deleted.</summary>
public sealed record OfferDeleted(Guid Id, IReadOnlyList<AcceptedJob> Jobs);

/// <summary>The offer's metadata and its jobs' params were erased; jobs still being sent are in <see cref="NotEnded"/> (erase again later).</summary>
public sealed record OfferErased(Guid Id, int Erased, int AlreadyErased, IReadOnlyList<Guid> NotEnded);
