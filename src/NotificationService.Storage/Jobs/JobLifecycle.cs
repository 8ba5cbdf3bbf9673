using System.Text.Json;
using NotificationService.Contracts;
using NotificationService.Storage.Adapters;

namespace NotificationService.Storage.Jobs;

// The job state machine: every transition of a job, as a pure function of the loaded Job, the command's inputs and the
// time, returning the events to append (none = nothing to do). No I/O and no clock here; callers load, commit and route.
//
//   Scheduled --OnSendTime--> Queued | Expired | Failed (adapter gone)
//   Scheduled, Queued --OnChange--> same state (expiry, params) while pending; the send time moves only while Scheduled
//   Scheduled, Queued --OnCancel--> Canceled;  Started --OnCancel--> cancellation requested (the worker ends it)
//   Scheduled, Queued --OnExpiryDue--> Expired
//   Queued, Started --OnStuck--> Queued (next generation) | Failed | Canceled | Expired
//   Failed --OnRetry--> Queued (a new attempt in the same stream)
//   Failed, Expired --OnRedrive--> Queued (an operator's bulk re-drive; an Expired one loses its expiry first)
//   any --OnParamsErased--> same state, params erased
//   Scheduled, Queued --OnErasure--> Canceled, params erased;  ended --OnErasure--> params erased;  Started: left alone
//   not terminal --OnPickUp--> Started (a redelivered Started one: a possible duplicate too) | Canceled | Expired
//   Started --OnAttemptEnded--> Finished | Queued (retry) | Failed | Canceled
//   any not terminal --OnPoisonMessage--> Failed
// Finished, Failed, Expired and Canceled are terminal: only OnRetry (Failed) and OnRedrive (Failed, Expired) move one on;
// OnParamsErased still records.
// Job.cs applies the events to the state, one line each. The whole table is tested in Core.Tests/Jobs/JobLifecycleTests.cs.

/// <summary>What a cancel request does to a job, decided from its state alone.</summary>
public abstract record CancelDecision
{
    /// <summary>Already ended; nothing changes (the API answers 409).</summary>
    public sealed record AlreadyEnded(JobState State) : CancelDecision;
    /// <summary>Append these events; <see cref="Broadcast"/> when a worker may be sending it right now.</summary>
    public sealed record Cancel(IReadOnlyList<object> Events, bool Broadcast) : CancelDecision;
}

/// <summary>How long a job may sit before the reconciler treats it as stuck.</summary>
/// <param name="StartedLease">a started attempt with no outcome for this long was lost (its worker died, or its outcome commit failed for good)</param>
/// <param name="QueuedBound">a queued job unchanged for this long, with no message for it in flight, lost its message</param>
public sealed record StuckJobBounds(TimeSpan StartedLease, TimeSpan QueuedBound);

/// <summary>What an erasure request (of an offer, or of a recipient's data) found a job to be.</summary>
public enum ErasureOutcome { Erased, AlreadyErased, NotEnded }

/// <summary>An erasure request's decision for one job: the outcome to report and the events to append.</summary>
public sealed record ErasureDecision(ErasureOutcome Outcome, IReadOnlyList<object> Events);

/// <summary>What to do with a job the worker just took from its queue.</summary>
public abstract record PickUp
{
    /// <summary>
    /// Nothing to do: the job is unknown, already terminal (a redelivery after it finished never sends twice) or another
    /// adapter's.
    /// </summary>
    public sealed record Skip : PickUp;
    /// <summary>End the job without sending (canceled or expired).</summary>
    public sealed record End(object Event) : PickUp;
    /// <summary>Send now as attempt <paramref name="Attempt"/>, after recording <paramref name="Events"/>.</summary>
    public sealed record Send(int Attempt, IReadOnlyList<object> Events) : PickUp;
}

/// <summary>The events that end an attempt, and when to try again if at all.</summary>
public sealed record AttemptOutcome(IReadOnlyList<object> Events, DateTimeOffset? RetryAt);

/// <summary>Every transition of a job: pure functions of its state, the command and the time, returning events.</summary>
public static class JobLifecycle
{
    // ---- Core side: the client's, the operator's and the core's timers' commands ----

    /// <summary>
    /// The scheduled message for <paramref name="sendAt"/> fired. Rescheduled (a later message carries the new time),
    /// canceled or expired meanwhile: this message has nothing to do.
    /// </summary>
    public static IReadOnlyList<object> OnSendTime(Job job, DateTimeOffset sendAt, Adapter? adapter, DateTimeOffset now)
    {
        if (job.State != JobState.Scheduled || job.SendAt != sendAt) return [];
        if (job.IsExpiredAt(now)) return [new JobExpired(job.Id, now)];
        if (adapter is null) return [new JobFailed(job.Id, 0, "The adapter was deleted before the send time.", now)];
        return [new JobQueued(job.Id, job.OfferId, job.ServiceId, adapter.Id, adapter.Name, job.Params, now, job.ExpireAt)];
    }

    /// <summary>
    /// A client's update of a pending job (its validation already passed): the fields given change, in this order. A job
    /// that has started keeps its expiry, send time and params; only a Scheduled job's send time moves (a queued one is
    /// already on its adapter's queue; the API answers 409 before it gets here).
    /// </summary>
    public static IReadOnlyList<object> OnChange(
        Job job, DateTimeOffset? expireAt, DateTimeOffset? sendAt, JsonElement? newParams, DateTimeOffset now)
    {
        if (!job.IsPending) return [];
        var events = new List<object>(3);
        if (expireAt is { } expiry) events.Add(new JobExpiryChanged(job.Id, expiry, now));
        if (sendAt is { } time && job.State == JobState.Scheduled) events.Add(new JobRescheduled(job.Id, time, now));
        if (newParams is { } changed) events.Add(new JobParamsUpdated(job.Id, changed, now));
        return events;
    }

    public static CancelDecision OnCancel(Job job, string requestedBy, DateTimeOffset now)
    {
        if (job.IsTerminal) return new CancelDecision.AlreadyEnded(job.State);
        if (job.CancellationRequested) return new CancelDecision.Cancel([], Broadcast: job.State == JobState.Started);
        var requested = new JobCancellationRequested(job.Id, requestedBy, now);
        // Not started: nothing can be in flight, so the cancel wins at once. Started: the worker owns the outcome and
        // ends it Canceled, or Finished if the send completed first; the broadcast aborts a send in flight.
        return job.State == JobState.Started
            ? new CancelDecision.Cancel([requested], Broadcast: true)
            : new CancelDecision.Cancel([requested, new JobCanceled(job.Id, now)], Broadcast: false);
    }

    /// <summary>A job still waiting when its expiry passes ends Expired and is never sent.</summary>
    public static IReadOnlyList<object> OnExpiryDue(Job job, DateTimeOffset now) =>
        job.State is JobState.Scheduled or JobState.Queued && job.IsExpiredAt(now) ? [new JobExpired(job.Id, now)] : [];

    /// <summary>
    /// The reconciler's decision on a job that looked stuck when it read it at <paramref name="seenVersion"/>, unchanged
    /// since <paramref name="lastChangeAt"/>. Anything appended since means someone else acted (a worker, another core's
    /// reconciler): nothing to do. A started job past its lease is re-queued as a new attempt and counted as a possible
    /// duplicate, since the lost attempt may have reached the recipient; a queued job past its bound is re-queued.
    /// </summary>
    public static IReadOnlyList<object> OnStuck(
        Job job, long seenVersion, DateTimeOffset lastChangeAt, StuckJobBounds bounds, bool adapterExists, DateTimeOffset now)
    {
        if (job.IsTerminal || job.Version != seenVersion) return [];
        switch (job.State)
        {
            case JobState.Started when lastChangeAt + bounds.StartedLease <= now:
                // The lost attempt's outcome is unknown: a cancel ends the job, saying the recipient may have it.
                if (job.CancellationRequested) return [new JobCanceled(job.Id, now, PossiblyDelivered: true)];
                var duplicate = new JobPossibleDuplicate(job.Id, job.Attempts, now);
                return adapterExists
                    ? [duplicate, new JobRequeued(job.Id, job.Generation + 1, "Started with no outcome past its lease.", now)]
                    : [duplicate, new JobFailed(job.Id, job.Attempts, "The attempt's outcome was lost and the adapter was deleted.", now)];
            case JobState.Queued when lastChangeAt + bounds.QueuedBound <= now:
                if (job.CancellationRequested) return [new JobCanceled(job.Id, now)];
                if (job.IsExpiredAt(now)) return [new JobExpired(job.Id, now)];
                return adapterExists
                    ? [new JobRequeued(job.Id, job.Generation + 1, "Queued with no message in flight.", now)]
                    : [new JobFailed(job.Id, job.Attempts, "The adapter was deleted while the job waited.", now)];
            default:
                return [];
        }
    }

    /// <summary>
    /// An operator re-drives a failed job as a new attempt, in a new generation (its new DeliverJob carries
    /// <see cref="RetryGeneration"/>), so a message of the job still queued can never send it a second time; a job whose
    /// params were erased is never sent again.
    /// </summary>
    public static IReadOnlyList<object> OnRetry(Job job, string requestedBy, DateTimeOffset now) =>
        job.State == JobState.Failed && job.ParamsErasedAt is null ? [new JobRetryRequested(job.Id, requestedBy, now, RetryGeneration(job))] : [];

    /// <summary>The generation of the message a retry or re-drive of <paramref name="job"/> (as read before it) sends.</summary>
    public static int RetryGeneration(Job job) => job.Generation + 1;

    /// <summary>
    /// An operator's bulk re-drive (by filter) of a failed or expired job as a new attempt. An expired job would expire
    /// again at its pick-up, so its expiry is lifted first: re-driving it is the operator's decision to send it after all.
    /// A job whose params were erased is never sent again.
    /// </summary>
    public static IReadOnlyList<object> OnRedrive(Job job, string requestedBy, DateTimeOffset now) => job switch
    {
        { ParamsErasedAt: not null } => [],
        { State: JobState.Failed } => OnRetry(job, requestedBy, now),
        { State: JobState.Expired } => [new JobExpiryChanged(job.Id, null, now), new JobRetryRequested(job.Id, requestedBy, now, RetryGeneration(job))],
        _ => [],
    };

    /// <summary>Retention or a data-subject request erases the job's params, once.</summary>
    public static IReadOnlyList<object> OnParamsErased(Job job, string reason, string by, DateTimeOffset now) =>
        job.ParamsErasedAt is null ? [new JobParamsErased(job.Id, reason, by, now)] : [];

    /// <summary>
    /// An erasure request (an offer's erasure, a recipient's erasure) on a job fetched for exclusive writing: a job
    /// not started is canceled first, so it is never sent with erased params; an ended one is erased; one being sent
    /// (Started) is left alone and reported as not ended.
    /// </summary>
    public static ErasureDecision OnErasure(Job job, string reason, string by, DateTimeOffset now)
    {
        if (job.ParamsErasedAt is not null) return new(ErasureOutcome.AlreadyErased, []);
        if (job.IsInFlight) return new(ErasureOutcome.NotEnded, []);
        IReadOnlyList<object> canceled = [];
        if (!job.IsTerminal)
        {
            // Not started: the cancel wins at once (JobCanceled in the same commit), as DELETE /v1/offers/{id} does.
            if (OnCancel(job, by, now) is not CancelDecision.Cancel { Events: var events } || !events.OfType<JobCanceled>().Any())
                return new(ErasureOutcome.NotEnded, []);
            canceled = events;
        }
        return new(ErasureOutcome.Erased, [.. canceled, .. OnParamsErased(job, reason, by, now)]);
    }

    // ---- Worker side: a job's message taken from its adapter's queue, its attempt's end, a message that keeps failing ----

    /// <param name="generation">the message's generation: one older than the job's was superseded by a re-queue</param>
    /// <param name="adapterId">the worker's adapter: a job of another adapter is never sent through this one's channel.
    /// Workers may publish retries to <c>ns.retries</c> with any routing key (RabbitMQ cannot restrict a direct exchange's
    /// routing keys per user), so a compromised worker could route a job's id into another adapter's queue.</param>
    public static PickUp OnPickUp(Job? job, string worker, DateTimeOffset now, int generation = 0, Guid? adapterId = null)
    {
        if (job is null || job.IsTerminal || generation < job.Generation) return new PickUp.Skip();
        if (adapterId is { } adapter && job.AdapterId != adapter) return new PickUp.Skip();
        if (job.CancellationRequested) return new PickUp.End(new JobCanceled(job.Id, now));
        if (job.IsExpiredAt(now)) return new PickUp.End(new JobExpired(job.Id, now));

        var attempt = job.Attempts + 1;
        var started = new JobStarted(job.Id, attempt, worker, now);
        // Started but never ended: the worker that held it died mid-send, so the recipient may already have it.
        return job.IsInFlight
            ? new PickUp.Send(attempt, [new JobPossibleDuplicate(job.Id, job.Attempts, now), started])
            : new PickUp.Send(attempt, [started]);
    }

    /// <param name="canceled">the send was aborted by a cancellation of this job (not by shutdown)</param>
    /// <param name="jitter01">a random number in [0, 1) that spreads retries of many jobs apart</param>
    /// <param name="possiblyDelivered">the abort came after the provider may have had the whole request</param>
    /// <param name="generation">the generation of the message this attempt was sent for</param>
    public static AttemptOutcome OnAttemptEnded(
        Job job, int attempt, DeliveryResult result, bool canceled, DeliveryPolicy policy, DateTimeOffset now, double jitter01,
        bool possiblyDelivered = false, int generation = 0)
    {
        if (job.IsTerminal) return new AttemptOutcome([], null);
        // A send that completed is reported as delivered even if a cancel arrived meanwhile: the truth wins.
        if (result is DeliveryResult.Delivered delivered) return End(new JobFinished(job.Id, attempt, now, delivered.ProviderMessageId));
        // The reconciler re-queued the job while this attempt hung: the new generation owns the job's next step.
        if (generation < job.Generation) return new AttemptOutcome([], null);
        // Aborted by the cancel: truly canceled if the provider never had the whole request, otherwise say it may have it.
        if (canceled) return End(new JobCanceled(job.Id, now, possiblyDelivered));
        if (job.CancellationRequested) return End(new JobCanceled(job.Id, now));

        switch (result)
        {
            case DeliveryResult.Permanent permanent:
                return End(new JobFailed(job.Id, attempt, permanent.Error, now, permanent.Detail));
            case DeliveryResult.Transient transient when attempt >= policy.MaxAttempts:
                return End(new JobFailed(job.Id, attempt, $"{transient.Error} (gave up after {attempt} attempts)", now, transient.Detail));
            case DeliveryResult.Transient transient:
                var retryAt = now + (transient.RetryAfter ?? policy.BackoffAfter(attempt, jitter01));
                return new AttemptOutcome([new JobAttemptFailed(job.Id, attempt, transient.Error, now, retryAt, transient.Detail)], retryAt);
            default:
                throw new ArgumentOutOfRangeException(nameof(result), result, "Unknown delivery result.");
        }

        static AttemptOutcome End(object @event) => new([@event], null);
    }

    /// <summary>
    /// The job's message kept failing for a reason that is not a dependency being away: the job ends Failed with the
    /// reason (the message goes to the dead-letter queue), so the queue keeps flowing.
    /// </summary>
    public static IReadOnlyList<object> OnPoisonMessage(Job job, string reason, DateTimeOffset now) =>
        job.IsTerminal ? [] : [new JobFailed(job.Id, job.Attempts, $"Poison message, dead-lettered: {reason}", now)];
}
