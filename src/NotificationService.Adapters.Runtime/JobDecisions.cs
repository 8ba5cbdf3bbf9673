using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Adapters.Runtime;

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

/// <summary>The job lifecycle decisions, as pure functions of the job's state, the time and the attempt's result.</summary>
public static class JobDecisions
{
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
}
