using System.Text.Json;
using System.Text.Json.Serialization;

namespace NotificationService.Client;

// Services

public enum ServiceStatus { Active, Blocked }

/// <summary>201: the service and its first key, shown only here.</summary>
public sealed record ServiceCreated(Guid Id, string Name, Guid KeyId, string ApiKey);

/// <param name="Limits">the limits the admin set (a null field: the configured default)</param>
/// <param name="Retention">only from <see cref="NotificationAdminClient.GetServiceAsync"/>: the retention set and in force</param>
public sealed record ServiceView(
    Guid Id, string Name, ServiceStatus Status, DateTimeOffset CreatedAt, IReadOnlyList<ServiceKeyView> Keys, ServiceLimits Limits,
    RetentionView? Retention = null);

public sealed record ServiceKeyView(Guid KeyId, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

public sealed record ServiceSummary(Guid Id, string Name, ServiceStatus Status);

/// <summary>201: another key for the service, shown only here.</summary>
public sealed record KeyIssued(Guid ServiceId, Guid KeyId, string ApiKey);

public sealed record KeyRevoked(Guid ServiceId, Guid KeyId, DateTimeOffset RevokedAt);

// Limits

/// <summary>The limits the admin set for a service; a null field means the configured default.</summary>
public sealed record ServiceLimits(
    double? OffersPerSecond = null, int? Burst = null, int? JobsPerOffer = null, int? PendingJobs = null, int? MaxBodyBytes = null, int? MaxParamsBytes = null);

/// <summary>The limits that apply to a service.</summary>
public sealed record EffectiveLimits(double OffersPerSecond, int Burst, int JobsPerOffer, int PendingJobs, int MaxBodyBytes, int MaxParamsBytes);

/// <param name="OfferTokens">offers the service may post at once now</param>
/// <param name="PendingJobs">its jobs not yet ended (counted up to the quota plus one)</param>
public sealed record LimitsUse(double OfferTokens, int PendingJobs);

/// <summary>What a service may do and how much of it it uses now.</summary>
public sealed record LimitsView(EffectiveLimits Limits, LimitsUse Use);

/// <summary>The limits set for a service and those that apply.</summary>
public sealed record ServiceLimitsView(Guid ServiceId, ServiceLimits Own, EffectiveLimits Effective);

/// <summary>A merge patch of a service's limits: a field left out stays, a value sets it, null puts it back to the default.</summary>
public sealed record ServiceLimitsPatch
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<double?> OffersPerSecond { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> Burst { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> JobsPerOffer { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> PendingJobs { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> MaxBodyBytes { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> MaxParamsBytes { get; init; }
}

// Retention

public sealed record ServiceRetention(int? ParamsDays = null, int? JobsDays = null, int? IdempotencyDays = null);

public sealed record EffectiveRetention(int ParamsDays, int JobsDays, int IdempotencyDays);

/// <summary>The retention set for a service (null: default) and the one in force, in days.</summary>
public sealed record RetentionView(ServiceRetention Set, EffectiveRetention Effective);

/// <summary>A merge patch of a service's retention, in days: left out stays, null goes back to the configured default.</summary>
public sealed record RetentionPatch
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> ParamsDays { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> JobsDays { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public Optional<int?> IdempotencyDays { get; init; }
}

// Adapters

public enum AdapterStatus { Active, Blocked }

/// <summary>How an adapter retries, throttles and expires its jobs.</summary>
public sealed record DeliveryPolicy
{
    public int MaxAttempts { get; init; } = 5;
    public double InitialBackoffSeconds { get; init; } = 2;
    public double MaxBackoffSeconds { get; init; } = 300;
    /// <summary>Sends per second across all of the adapter's workers; null: unlimited.</summary>
    public double? RateLimitPerSecond { get; init; }
    /// <summary>Time-to-live of jobs whose offer sets no expiry; null: they never expire.</summary>
    public double? DefaultTtlSeconds { get; init; }
    /// <summary>Another adapter of the same type that takes new jobs while this one is blocked or failing (README "Failover between adapters").</summary>
    public string? FailoverAdapter { get; init; }
    /// <summary>How long this adapter's jobs must fail transiently, none delivered, before new jobs go to the failover.</summary>
    public double FailoverAfterSeconds { get; init; } = 300;
}

/// <summary>A new adapter.</summary>
/// <param name="Name">1 to 63 of a-z 0-9 . _ - (it names the queue)</param>
/// <param name="Type">an adapter type (<see cref="NotificationAdminClient.ListAdapterTypesAsync"/>): email, telegram, sms, webhook</param>
/// <param name="Config">matching the type's config schema (an anonymous object, a dictionary or JSON)</param>
public sealed record CreateAdapterRequest(string Name, string Type, object Config)
{
    /// <summary>A JSON Schema (draft-07) for the params of its jobs; default: the type's.</summary>
    public object? ParamsSchema { get; init; }
    /// <summary>The services that may use it; empty or null: every service.</summary>
    public IReadOnlyList<Guid>? Services { get; init; }
    public DeliveryPolicy? Policy { get; init; }
}

/// <summary>201: the adapter and its worker key, shown only here.</summary>
public sealed record AdapterCreated(Guid Id, string Name, string Type, string Queue, string ApiKey);

/// <summary>An adapter as the admin sees it: config without secrets, and which secrets are set.</summary>
/// <param name="Live">its workers, queue and status now: from <see cref="NotificationAdminClient.GetAdapterAsync"/> and
/// <see cref="NotificationAdminClient.ListAdaptersAsync(CancellationToken)"/>; null in the answers to changes</param>
public sealed record AdapterView(
    Guid Id, string Name, string Type, AdapterStatus Status, string Queue, JsonElement Config, IReadOnlyList<string> SecretsSet,
    JsonElement ParamsSchema, IReadOnlyList<Guid> Services, DeliveryPolicy Policy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    AdapterLive? Live = null);

/// <summary>What an adapter is doing now (README "Live worker status" defines the statuses).</summary>
/// <param name="Status"><c>ok</c>, <c>no live worker</c>, <c>backlog growing</c> or <c>blocked</c></param>
/// <param name="Workers">the worker nodes whose last heartbeat is within the core's liveness bound</param>
/// <param name="QueueDepth">messages ready in the adapter's queue at the last sample; null before the first one</param>
/// <param name="OldestWaitingSince">creation time of its oldest Queued job; null when none waits</param>
public sealed record AdapterLive(
    LiveStatus Status, IReadOnlyList<LiveWorker> Workers, long? QueueDepth, DateTimeOffset? QueueDepthAt,
    DateTimeOffset? OldestWaitingSince, double? OldestWaitingSeconds);

/// <summary>An adapter's live status; README "Live worker status" defines each.</summary>
public enum LiveStatus
{
    [JsonStringEnumMemberName("ok")] Ok,
    [JsonStringEnumMemberName("no live worker")] NoLiveWorker,
    [JsonStringEnumMemberName("backlog growing")] BacklogGrowing,
    [JsonStringEnumMemberName("blocked")] Blocked,
}

/// <summary>One running worker node, from its last heartbeat.</summary>
/// <param name="InFlight">sends it had in hand at that heartbeat</param>
public sealed record LiveWorker(
    string Node, string Host, string Version, int Parallelism, int InFlight, DateTimeOffset StartedAt, DateTimeOffset LastSeen);

/// <summary>
/// A change to an adapter; null fields stay. <see cref="Config"/> and <see cref="Policy"/> are merge patches (a field set
/// to null is removed: pass a <c>JsonObject</c> or a dictionary for that, since null properties of a .NET object are left
/// out); <see cref="ParamsSchema"/> and <see cref="Services"/> replace.
/// </summary>
public sealed record UpdateAdapterRequest
{
    public object? Config { get; init; }
    public object? ParamsSchema { get; init; }
    public IReadOnlyList<Guid>? Services { get; init; }
    public object? Policy { get; init; }
}

public sealed record AdapterRemoved(Guid Id, string Name);

public sealed record AdapterTypeView(string Name, string Description, JsonElement ConfigSchema, JsonElement ParamsSchema, IReadOnlyList<string> SecretFields);

/// <summary>An adapter a service may use, with the JSON Schema its params must follow.</summary>
public sealed record ClientAdapterView(string Name, string Type, JsonElement ParamsSchema);

// Invites

/// <param name="ExpiresInHours">default 72, at most 720</param>
public sealed record CreateInviteRequest(string? Note = null, double? ExpiresInHours = null);

/// <summary>201: the invite and its code, shown only here.</summary>
public sealed record InviteCreated(Guid Id, string Code, DateTimeOffset ExpiresAt);

public sealed record InviteView(
    Guid Id, string? Note, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt, Guid? ServiceId, DateTimeOffset? RevokedAt);

// Jobs (admin)

/// <summary>What <see cref="NotificationAdminClient.SearchJobsAsync"/> looks for, across every service; null filters are not applied.</summary>
public sealed record AdminJobSearch
{
    public JobState? State { get; init; }
    public string? Adapter { get; init; }
    public Guid? Service { get; init; }
    /// <summary>Created at or after.</summary>
    public DateTimeOffset? From { get; init; }
    /// <summary>Created before.</summary>
    public DateTimeOffset? To { get; init; }
    public Guid? OfferId { get; init; }
    /// <summary>The offer's metadata must hold each of these key/value pairs (<c>metadata.&lt;key&gt;=&lt;value&gt;</c>).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>A page number (OFFSET paging); leave it null when paging by <see cref="After"/>.</summary>
    public int? Page { get; init; }
    /// <summary>1 to 200 (server default 50).</summary>
    public int? PageSize { get; init; }
    /// <summary>The <see cref="AdminJobPage.Next"/> of the previous page; null for the first.</summary>
    public string? After { get; init; }
}

/// <summary>
/// A page of the admin job search, newest first: <see cref="Next"/> is the cursor of the following page (null on the last),
/// <see cref="Page"/> null when paged by cursor; <see cref="Total"/> counts the matches up to 1,000 (then <see cref="TotalIsExact"/> is false).
/// </summary>
public sealed record AdminJobPage(IReadOnlyList<AdminJobView> Items, int? Page, int PageSize, long Total, bool TotalIsExact, string? Next);

/// <summary>A job as an operator sees it: whose it is and what the provider answered to the last failed attempt.</summary>
public sealed record AdminJobView(Guid ServiceId, Guid AdapterId, JobView Job, string? LastErrorDetail);

public sealed record JobCount(string Adapter, JobState State, int Count);

public sealed record RetryRequested(Guid Id);

public sealed record ProjectionsRebuilt(IReadOnlyList<string> Projections, double Seconds);

// Operations: dead letters, re-drive, projections, the operators' audit trail

/// <summary>Dead letters by id, or by a filter (at least one field); <see cref="DryRun"/> answers without acting.</summary>
public sealed record DeadLetterSelection(
    IReadOnlyList<Guid>? Ids = null, string? Adapter = null, string? MessageType = null, string? ExceptionType = null, string? Failure = null,
    DateTimeOffset? From = null, DateTimeOffset? To = null, bool DryRun = false);

/// <param name="Store"><c>core</c> (the core's own queues) or <c>workers</c> (a job's poison message)</param>
/// <param name="Failure">the exception message with ids and numbers masked, as the groups list it</param>
public sealed record DeadLetterView(
    Guid Id, string Store, string MessageType, Guid? JobId, string? Adapter, string ExceptionType, string ExceptionMessage, string Failure,
    DateTimeOffset SentAt, string? ReceivedAt, bool Replayable);

public sealed record DeadLetterGroup(string ExceptionType, string Failure, string MessageType, int Count, DateTimeOffset FirstSentAt, DateTimeOffset LastSentAt, IReadOnlyList<Guid> SampleIds);

public sealed record DeadLetterSearch
{
    public string? Adapter { get; init; }
    public string? MessageType { get; init; }
    public string? ExceptionType { get; init; }
    public string? Failure { get; init; }
    /// <summary>Sent at or after.</summary>
    public DateTimeOffset? From { get; init; }
    /// <summary>Sent before.</summary>
    public DateTimeOffset? To { get; init; }
    public int? Page { get; init; }
    public int? PageSize { get; init; }
    /// <summary>The <see cref="KeysetPage{T}.Next"/> of the previous page (instead of <see cref="Page"/>); null for the first.</summary>
    public string? After { get; init; }
}

public sealed record DeadLetterSkipped(Guid Id, string Reason);

public sealed record DeadLettersReplayed(bool DryRun, int Matched, int Replayed, int Remaining, IReadOnlyList<Guid> SampleIds, IReadOnlyList<DeadLetterSkipped> Skipped, Guid? OperationId);

public sealed record DeadLettersDiscarded(bool DryRun, int Matched, int Discarded, int Remaining, IReadOnlyList<Guid> SampleIds, Guid? OperationId);

/// <summary>Ended jobs to re-drive: <see cref="State"/> Failed or Expired (both when null); From/To on the time the job ended.</summary>
public sealed record RedriveJobs(string? Adapter = null, Guid? Service = null, JobState? State = null, DateTimeOffset? From = null, DateTimeOffset? To = null, bool DryRun = false);

public sealed record RedriveAnswer(bool DryRun, int Matched, IReadOnlyList<Guid> SampleIds, Guid? OperationId);

public enum OperationKind { Replay, Discard, Redrive, Rebuild }

public enum OperationStatus { Running, Done }

/// <summary>An operator's action: who, when, on what, and its progress.</summary>
public sealed record OperationView(
    Guid Id, OperationKind Kind, string By, DateTimeOffset StartedAt, JsonElement Selection, int Total, int Done, int Failed,
    OperationStatus Status, DateTimeOffset? FinishedAt, string? Outcome);

public sealed record ProjectionProgress(string Name, long Sequence, long Lag);

public sealed record ProjectionsStatus(long HighWaterMark, bool Rebuilding, IReadOnlyList<ProjectionProgress> Projections);

// Erasures

public sealed record RecipientErased(Guid Id, int Erased, IReadOnlyList<Guid> NotEnded);

/// <summary>The audit record of an erasure: by recipient (kind <c>email</c>/<c>phone</c>, only its SHA-256 kept) or by offer.</summary>
public sealed record ErasureRecord(
    Guid Id, string Kind, string? RecipientSha256, Guid? OfferId, Guid? ServiceId, string By, DateTimeOffset At, int Erased, IReadOnlyList<Guid> NotEnded);
