using Marten;
using Microsoft.Extensions.Logging;
using NotificationService.Contracts;
using NotificationService.Storage.Jobs;
using Wolverine;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// Takes one job from the adapter's queue and owns its real status. The RabbitMQ message is acknowledged only after
/// this returns, so a worker that dies mid-send leaves the job to another instance, which records the possible duplicate.
/// </summary>
public static class DeliverJobHandler
{
    public static async Task<OutgoingMessages> Handle(
        DeliverJob message, IDocumentSession session, JobJournal journal, WorkerContext worker, IChannelSender channel,
        InFlightJobs inFlight, SendRateLimiter rateLimit, TimeProvider clock, ILogger<DeliverJob> logger, CancellationToken shutdown)
    {
        // The rate limit is waited out before the start is recorded, so a database hiccup while reserving a slot can never
        // look like a send that started and never ended.
        await rateLimit.WaitForSlotAsync(shutdown);

        // Phase 1, committed before the send: JobStarted must be durable first, or a cancellation could be ordered before
        // the start and a crash mid-send would leave no trace that an attempt began.
        PickUp pickUp = new PickUp.Skip();
        Job? job = null;
        await journal.AppendAsync(message.JobId, loaded =>
        {
            (job, pickUp) = (loaded, JobDecisions.OnPickUp(loaded, worker.Node, clock.GetUtcNow()));
            return pickUp switch
            {
                PickUp.End end => [end.Event],
                PickUp.Send send => send.Events,
                _ => [],
            };
        });
        if (pickUp is not PickUp.Send { Attempt: var attempt }) return [];

        var (result, canceled) = await SendAsync(message.JobId, attempt, job!, channel, inFlight, logger, shutdown);

        // Phase 2: the outcome. A delivery or a permanent failure ends the job and joins the journal's next group commit;
        // a transient failure may schedule a retry, which must commit with its event through Wolverine's durable outbox.
        AttemptOutcome Decide(Job latest) =>
            JobDecisions.OnAttemptEnded(latest, attempt, result, canceled, worker.Policy, clock.GetUtcNow(), Random.Shared.NextDouble());
        if (result is not DeliveryResult.Transient)
        {
            await journal.AppendAsync(message.JobId, latest => Decide(latest!).Events);
            return [];
        }
        var stream = await session.Events.FetchForExclusiveWriting<Job>(message.JobId, shutdown);
        var outcome = Decide(stream.Aggregate!);
        stream.AppendMany(outcome.Events);
        return outcome.RetryAt is { } retryAt
            ? [message.ToDestination(worker.RetryUri, new DeliveryOptions { ScheduledTime = retryAt })]
            : [];
    }

    private static async Task<(DeliveryResult Result, bool Canceled)> SendAsync(
        Guid jobId, int attempt, Job job, IChannelSender channel, InFlightJobs inFlight, ILogger logger, CancellationToken shutdown)
    {
        using var tracked = inFlight.Track(jobId, shutdown);
        try
        {
            return (await channel.SendAsync(new ChannelDelivery(jobId, attempt, job.Params), tracked.Token), false);
        }
        catch (OperationCanceledException) when (tracked.IsCancellationRequested && !shutdown.IsCancellationRequested)
        {
            return (new DeliveryResult.Transient("The send was aborted by a cancellation."), true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A sender should classify its own failures; anything it did not is treated as transient and retried.
            logger.LogWarning(e, "Unclassified failure sending job {JobId}", jobId);
            return (new DeliveryResult.Transient(e.Message), false);
        }
    }
}

/// <summary>Every worker node receives every cancellation; only the node sending that job acts on it.</summary>
public static class JobCancellationBroadcastHandler
{
    public static void Handle(JobCancellationBroadcast message, InFlightJobs inFlight, ILogger<JobCancellationBroadcast> logger)
    {
        if (inFlight.Cancel(message.JobId)) logger.LogInformation("Aborted the in-flight send of job {JobId}", message.JobId);
    }
}
