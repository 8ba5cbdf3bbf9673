using System.Text.Json;

namespace NotificationService.Storage.Jobs;

// A job's history is its event stream. Every event carries its own time, so projections never read the clock and a
// rebuild from the streams reproduces the same documents.

/// <summary>The job was accepted with a send time in the future; it is queued when that time comes.</summary>
public sealed record JobScheduled(
    Guid JobId, Guid OfferId, Guid ServiceId, Guid AdapterId, string AdapterName, JsonElement Params,
    DateTimeOffset CreatedAt, DateTimeOffset SendAt, DateTimeOffset? ExpireAt);

/// <summary>The job was handed to its adapter's queue (through the outbox, in the same transaction).</summary>
public sealed record JobQueued(
    Guid JobId, Guid OfferId, Guid ServiceId, Guid AdapterId, string AdapterName, JsonElement Params,
    DateTimeOffset QueuedAt, DateTimeOffset? ExpireAt);

/// <summary>A worker took the job and is about to send (attempt numbers start at 1).</summary>
public sealed record JobStarted(Guid JobId, int Attempt, string Worker, DateTimeOffset StartedAt);

/// <summary>
/// The job was delivered again after an attempt had started but never ended (the worker died mid-send):
/// the recipient may get it twice. Recorded so duplicates are counted, not hidden.
/// </summary>
public sealed record JobPossibleDuplicate(Guid JobId, int Attempt, DateTimeOffset DetectedAt);

/// <summary>
/// One attempt failed with a transient error; another follows at <paramref name="RetryAt"/>. <paramref name="Error"/> is the
/// classified reason everyone sees; <paramref name="Detail"/> what the provider answered (a bounded excerpt), for operators only.
/// </summary>
public sealed record JobAttemptFailed(Guid JobId, int Attempt, string Error, DateTimeOffset FailedAt, DateTimeOffset RetryAt, string? Detail = null);

/// <summary>Delivered. Terminal.</summary>
public sealed record JobFinished(Guid JobId, int Attempt, DateTimeOffset FinishedAt, string? ProviderMessageId);

/// <summary>Gave up: a permanent error, or no attempts left. Terminal until an operator re-drives it. Detail as above.</summary>
public sealed record JobFailed(Guid JobId, int Attempt, string Error, DateTimeOffset FailedAt, string? Detail = null);

/// <summary>Its expiry passed before it started. Terminal; it is never sent.</summary>
public sealed record JobExpired(Guid JobId, DateTimeOffset ExpiredAt);

/// <summary>Someone asked to cancel the job; workers check for this before starting and before each attempt.</summary>
public sealed record JobCancellationRequested(Guid JobId, string RequestedBy, DateTimeOffset RequestedAt);

/// <summary>
/// The cancellation won: the job will not be sent, or its in-flight send was aborted. Terminal.
/// <paramref name="PossiblyDelivered"/>: the abort came after the provider may have received the whole request (the
/// answer was never read), so the recipient may have it; false means the attempt truly ended before the provider had it.
/// </summary>
public sealed record JobCanceled(Guid JobId, DateTimeOffset CanceledAt, bool PossiblyDelivered = false);

/// <summary>The client changed the job's params before it started.</summary>
public sealed record JobParamsUpdated(Guid JobId, JsonElement Params, DateTimeOffset UpdatedAt);

/// <summary>The client changed (or removed) the job's expiry before it started.</summary>
public sealed record JobExpiryChanged(Guid JobId, DateTimeOffset? ExpireAt, DateTimeOffset ChangedAt);

/// <summary>The client moved a scheduled job's send time.</summary>
public sealed record JobRescheduled(Guid JobId, DateTimeOffset SendAt, DateTimeOffset RescheduledAt);

/// <summary>
/// An operator re-drove a failed (or expired) job; the next attempt follows in the same stream, under a new
/// <paramref name="Generation"/> as <see cref="JobRequeued"/>: a message of the job still in its queue (an expired job's
/// original one, a replayed poison message whose ack failed) is then stale and skipped. Null in events stored before
/// re-drives started a generation.
/// </summary>
public sealed record JobRetryRequested(Guid JobId, string RequestedBy, DateTimeOffset RequestedAt, int? Generation = null);

/// <summary>
/// The reconciler found the job stuck (started with no outcome past its lease, or queued with no message in flight) and
/// queued it again. Its new message carries <paramref name="Generation"/>; a message of an earlier generation that still
/// turns up is stale and skipped, so re-publishing never makes two workers send the same job.
/// </summary>
public sealed record JobRequeued(Guid JobId, int Generation, string Reason, DateTimeOffset RequeuedAt);

/// <summary>
/// The job's params were erased (retention, or a data-subject request): the Job document and every stored event that
/// carried them (JobScheduled, JobQueued, JobParamsUpdated) now hold <see cref="Job.ErasedParams"/>, and failures'
/// provider detail (which may quote the recipient) is null, rewritten in the same transaction as this event, so a replay
/// reproduces the erased state. <paramref name="Reason"/>: "retention",
/// "offer" or "recipient"; <paramref name="By"/>: who asked ("retention" for the sweep).
/// </summary>
public sealed record JobParamsErased(Guid JobId, string Reason, string By, DateTimeOffset ErasedAt);

/// <summary>
/// A fallback chain moved on from this job (README "Fallback chains"): it ended Failed or Expired, or was not Finished
/// within the chain's fallbackAfterSeconds (<paramref name="Reason"/> "Failed", "Expired" or "NotFinishedInTime"), and
/// <paramref name="NextJobId"/>, step <paramref name="Step"/> of the chain, was created in the same offer.
/// </summary>
public sealed record JobFellBack(Guid JobId, Guid NextJobId, int Step, string Reason, DateTimeOffset At);

/// <summary>
/// This job is step <paramref name="Step"/> of a fallback chain, started because <paramref name="PreviousJobId"/> ended or
/// ran out of time (<paramref name="Reason"/> as in <see cref="JobFellBack"/>); second event of its stream, after JobQueued.
/// </summary>
public sealed record JobFallbackStarted(Guid JobId, Guid PreviousJobId, int Step, string Reason, DateTimeOffset At);

/// <summary>
/// The job was meant for <paramref name="FromAdapter"/> and was routed to that adapter's failover <paramref name="ToAdapter"/>
/// (README "Failover between adapters"); <paramref name="Reason"/>: "blocked" or "failing" (transient failures for longer
/// than the adapter's failoverAfterSeconds). Follows the job's JobQueued or JobScheduled.
/// </summary>
public sealed record JobRoutedToFailover(Guid JobId, string FromAdapter, string ToAdapter, string Reason, DateTimeOffset At);
