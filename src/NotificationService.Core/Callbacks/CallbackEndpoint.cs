using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// A URL a service registered to be told about its jobs' events. The signing secret is stored encrypted with Data
/// Protection (<see cref="CallbackSecrets"/>) and shown only in the creation response.
/// </summary>
public sealed class CallbackEndpoint
{
    public Guid Id { get; set; }
    public Guid ServiceId { get; set; }
    public string Url { get; set; } = "";
    public List<string> Events { get; set; } = [];
    public string ProtectedSecret { get; set; } = "";
    public bool Enabled { get; set; } = true;
    public string? DisabledReason { get; set; }
    public DateTimeOffset? DisabledAt { get; set; }
    /// <summary>Failed attempts since the last success (the disabling bound counts these), and when that run of failures began.</summary>
    public int ConsecutiveFailures { get; set; }
    public DateTimeOffset? FailingSince { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One attempt to deliver one event to one callback, newest first in GET /v1/callbacks/{id}/deliveries.</summary>
public sealed class CallbackDelivery
{
    public Guid Id { get; set; }
    public Guid CallbackId { get; set; }
    public Guid EventId { get; set; }
    public string EventType { get; set; } = "";
    public Guid JobId { get; set; }
    public string Url { get; set; } = "";
    public int Attempt { get; set; }
    public DateTimeOffset AttemptedAt { get; set; }
    public int? StatusCode { get; set; }
    public string Outcome { get; set; } = "";
    public string? Error { get; set; }
    public long DurationMs { get; set; }
    public DateTimeOffset? NextAttemptAt { get; set; }
}

public static class DeliveryOutcomes
{
    public const string Delivered = "delivered", Failed = "failed", GaveUp = "gaveUp", Skipped = "skipped";
}

/// <summary>The job events a callback may subscribe to, by the name the API and the payload use.</summary>
public static class CallbackEvents
{
    public static readonly IReadOnlyList<string> All = ["scheduled", "queued", "started", "attemptFailed", "finished", "failed", "expired", "canceled"];
    public static readonly IReadOnlyList<string> Default = ["started", "finished", "failed", "expired", "canceled"];

    /// <summary>The event's name, the job's state right after it, its attempt (null: take the job's) and its error; null for other events.</summary>
    public static (string Name, JobState State, int? Attempt, string? Error)? Describe(object data) => data switch
    {
        JobScheduled => ("scheduled", JobState.Scheduled, 0, null),
        JobQueued => ("queued", JobState.Queued, null, null),
        JobStarted e => ("started", JobState.Started, e.Attempt, null),
        JobAttemptFailed e => ("attemptFailed", JobState.Queued, e.Attempt, e.Error),
        JobFinished e => ("finished", JobState.Finished, e.Attempt, null),
        JobFailed e => ("failed", JobState.Failed, e.Attempt, e.Error),
        JobExpired => ("expired", JobState.Expired, null, null),
        JobCanceled => ("canceled", JobState.Canceled, null, null),
        _ => null,
    };
}

public sealed record CallbackView(
    Guid Id, string Url, IReadOnlyList<string> Events, bool Enabled, string? DisabledReason, DateTimeOffset? DisabledAt,
    int ConsecutiveFailures, DateTimeOffset CreatedAt)
{
    public static CallbackView From(CallbackEndpoint c) =>
        new(c.Id, c.Url, c.Events, c.Enabled, c.DisabledReason, c.DisabledAt, c.ConsecutiveFailures, c.CreatedAt);
}

public sealed record CallbackDeliveryView(
    Guid Id, Guid EventId, string EventType, Guid JobId, string Url, int Attempt, DateTimeOffset AttemptedAt, int? StatusCode,
    string Outcome, string? Error, long DurationMs, DateTimeOffset? NextAttemptAt)
{
    public static CallbackDeliveryView From(CallbackDelivery d) =>
        new(d.Id, d.EventId, d.EventType, d.JobId, d.Url, d.Attempt, d.AttemptedAt, d.StatusCode, d.Outcome, d.Error, d.DurationMs, d.NextAttemptAt);
}

public sealed record CallbackDeliveryPage(IReadOnlyList<CallbackDeliveryView> Items, string? Next);
