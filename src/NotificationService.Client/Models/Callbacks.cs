using System.Text.Json;

namespace NotificationService.Client;

/// <summary>The job events a callback can subscribe to (the names in <c>events</c>).</summary>
public static class CallbackEvents
{
    public const string Scheduled = "scheduled";
    public const string Queued = "queued";
    public const string Started = "started";
    public const string AttemptFailed = "attemptFailed";
    public const string Finished = "finished";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Canceled = "canceled";

    /// <summary>What a callback registered without <c>events</c> gets: the start and every end of a job.</summary>
    public static IReadOnlyList<string> Default { get; } = [Started, Finished, Failed, Expired, Canceled];

    public static IReadOnlyList<string> All { get; } = [Scheduled, Queued, Started, AttemptFailed, Finished, Failed, Expired, Canceled];
}

/// <summary>A callback endpoint to register.</summary>
/// <param name="Url">an absolute https (or http) URL that receives the signed POSTs</param>
/// <param name="Events">the events wanted (<see cref="CallbackEvents"/>); null: <see cref="CallbackEvents.Default"/></param>
public sealed record CreateCallbackRequest(string Url, IReadOnlyList<string>? Events = null);

/// <summary>201: the callback, with its signing <see cref="Secret"/>, which is shown only here.</summary>
public sealed record CallbackCreated(Guid Id, string Url, IReadOnlyList<string> Events, bool Enabled, DateTimeOffset CreatedAt, string Secret);

/// <summary>A callback endpoint; one that kept failing is disabled (<see cref="DisabledReason"/>) until enabled again.</summary>
public sealed record CallbackView(
    Guid Id, string Url, IReadOnlyList<string> Events, bool Enabled, string? DisabledReason, DateTimeOffset? DisabledAt,
    int ConsecutiveFailures, DateTimeOffset CreatedAt);

/// <summary>The outcome of one delivery attempt (the names in <see cref="CallbackDeliveryView.Outcome"/>).</summary>
public static class CallbackOutcomes
{
    public const string Delivered = "delivered";
    public const string Failed = "failed";
    public const string GaveUp = "gaveUp";
    public const string Skipped = "skipped";
}

/// <summary>One attempt to deliver one event to a callback URL.</summary>
public sealed record CallbackDeliveryView(
    Guid Id, Guid EventId, string EventType, Guid JobId, string Url, int Attempt, DateTimeOffset AttemptedAt, int? StatusCode,
    string Outcome, string? Error, double DurationMs, DateTimeOffset? NextAttemptAt);

/// <summary>A page of delivery attempts, newest first; <see cref="Next"/> is the cursor of the next page, null on the last.</summary>
public sealed record CallbackDeliveryPage(IReadOnlyList<CallbackDeliveryView> Items, string? Next);

/// <summary>
/// What a callback endpoint receives: one job event. <see cref="Id"/> is the event's id, the same on every redelivery:
/// de-duplicate on it. <see cref="Sequence"/> is the event's version in the job's stream, so events of one job can be
/// put in order. Check the signature (<see cref="CallbackSignature.Verify(string, string, string, TimeSpan, DateTimeOffset?)"/>) before
/// trusting the body.
/// </summary>
/// <param name="Type">the event, e.g. <c>job.finished</c></param>
public sealed record CallbackNotification(
    Guid Id, string Type, Guid JobId, Guid OfferId, string Adapter, JobState State, int Attempt, long Sequence, DateTimeOffset OccurredAt,
    string? Error, IReadOnlyDictionary<string, string>? Metadata)
{
    /// <summary>Reads a callback's body (after its signature was checked).</summary>
    public static CallbackNotification Parse(string body) =>
        JsonSerializer.Deserialize<CallbackNotification>(body, ApiConnection.Json) ?? throw new JsonException("The callback body is null.");

    /// <inheritdoc cref="Parse(string)"/>
    public static CallbackNotification Parse(ReadOnlySpan<byte> body) =>
        JsonSerializer.Deserialize<CallbackNotification>(body, ApiConnection.Json) ?? throw new JsonException("The callback body is null.");
}
