using System.Diagnostics;
using Microsoft.Extensions.Logging;
using NotificationService.Contracts;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// Takes one job from the adapter's queue and owns its real status. The RabbitMQ message is acknowledged only after
/// this returns, so a worker that dies mid-send leaves the job to another instance, which records the possible duplicate.
/// </summary>
public static partial class DeliverJobHandler
{
    // The worker writes job events through JobJournal only, never in Wolverine's transaction: JobStarted must be committed
    // in the middle of the handler, before the send (Wolverine commits when the handler returns); the outcome's commit is
    // retried on its own for a window (a failed Wolverine commit goes to the error policies, which would run the handler,
    // and the send, again); and concurrent sends share commits (group commit). Wolverine writes only its own envelopes:
    // the retry message returned below, stored by the durable sending endpoint after the outcome is committed.
    // [NonTransactional]: AutoApplyTransactions (on in every process) never wraps this handler, even if it takes a session.
    [NonTransactional]
    public static async Task<OutgoingMessages> Handle(
        DeliverJob message, JobJournal journal, WorkerContext worker, IChannelSender channel, InFlightJobs inFlight,
        SendRateLimiter rateLimit, TimeProvider clock, Envelope envelope, ILogger<DeliverJob> logger, CancellationToken shutdown)
    {
        Telemetry.WorkingFor(message.JobId); // every span from here on names the job (restored when this returns)
        // The rate limit is waited out before the start is recorded, so a database hiccup while reserving a slot can never
        // look like a send that started and never ended.
        await rateLimit.WaitForSlotAsync(shutdown);

        // Phase 1, committed before the send: JobStarted must be durable first, or a cancellation could be ordered before
        // the start and a crash mid-send would leave no trace that an attempt began. A failure here is before any send,
        // so the worker's error policies may retry the whole message.
        PickUp pickUp = new PickUp.Skip();
        Job? job = null, held = null;
        await journal.AppendAsync(message.JobId, loaded =>
        {
            (job, pickUp) = (loaded, JobLifecycle.OnPickUp(loaded, worker.Node, clock.GetUtcNow(), message.Generation, worker.AdapterId));
            // The job as this start commits it: JobStreamAppend stores the same Then of these events; `loaded` stays as read.
            held = pickUp is PickUp.Send started ? loaded!.AfterStart(started.Events) : null;
            return pickUp switch
            {
                PickUp.End end => [end.Event],
                PickUp.Send send => send.Events,
                _ => [],
            };
        });
        if (pickUp is not PickUp.Send { Attempt: var attempt })
        {
            var (outcome, _) = Outcome(pickUp is PickUp.End end ? [end.Event] : []);
            Ended(logger, message.JobId, worker.AdapterName, job?.Attempts ?? 0, outcome, 0, null);
            return [];
        }

        var delivery = new ChannelDelivery(message.JobId, attempt, job!.Params);
        var sendStarted = Stopwatch.GetTimestamp();
        var (result, canceled) = await SendAsync(delivery, channel, inFlight, logger, shutdown);
        var sendTime = Stopwatch.GetElapsedTime(sendStarted);
        JobMetrics.Sent(worker.AdapterName, sendTime);

        // Phase 2: the outcome. Past the send, nothing may throw back into the error policies: they would run the handler
        // again and send a delivered job twice. Only the commit is retried; a transient failure's retry message follows
        // once its event is committed (lost in between, the reconciler re-publishes the queued job). Decided from the job as
        // this worker committed its start, appended at that version: a cancel or re-queue since then sends it to the lock.
        DateTimeOffset? retryAt = null;
        IReadOnlyList<object> recorded = [];
        var committed = await CommitOutcomeAsync(message.JobId, journal, held!, worker.OutcomeCommitWindow, logger, latest =>
        {
            if (latest is null) return []; // the job's stream is gone (deleted data): nothing left to record
            var outcome = JobLifecycle.OnAttemptEnded(latest!, attempt, result, canceled, worker.Policy, clock.GetUtcNow(),
                Random.Shared.NextDouble(), delivery.Progress.PossiblyDelivered, message.Generation);
            retryAt = outcome.RetryAt;
            return recorded = outcome.Events;
        });
        var (ended, error) = committed ? Outcome(recorded) : ("unrecorded", null);
        Ended(logger, message.JobId, worker.AdapterName, attempt, ended, (long)sendTime.TotalMilliseconds, error);
        return committed && retryAt is { } at
            ? [message.ToDestination(worker.RetryUri, Retry(at, envelope))]
            : [];
    }

    /// <summary>
    /// The one line per job outcome an operator reads (no params: those are the tenant's data). The error is the
    /// classified one the tenant sees too, never the provider's answer. With the JSON formatter the line carries the
    /// trace and span ids, so it leads to the job's trace.
    /// </summary>
    private static void Ended(ILogger logger, Guid jobId, string adapter, int attempt, string outcome, long durationMs, string? error)
    {
        // Two templates, so an outcome without an error does not end in "(null)".
        if (error is null) EndedClean(logger, jobId, adapter, attempt, outcome, durationMs);
        else EndedWithError(logger, jobId, adapter, attempt, outcome, durationMs, error);
    }

    [LoggerMessage(LogLevel.Information, "Job {JobId} on {Adapter}, attempt {Attempt}: {Outcome} ({DurationMs} ms)")]
    private static partial void EndedClean(ILogger logger, Guid jobId, string adapter, int attempt, string outcome, long durationMs);

    [LoggerMessage(LogLevel.Information, "Job {JobId} on {Adapter}, attempt {Attempt}: {Outcome} ({DurationMs} ms) {Error}")]
    private static partial void EndedWithError(ILogger logger, Guid jobId, string adapter, int attempt, string outcome, long durationMs, string error);

    /// <summary>What the committed events say: nothing committed means the message was stale or the job already ended.</summary>
    private static (string Outcome, string? Error) Outcome(IReadOnlyList<object> events) => events.LastOrDefault() switch
    {
        JobFinished => ("finished", null),
        JobAttemptFailed f => ("retry", f.Error),
        JobFailed f => ("failed", f.Error),
        JobCanceled => ("canceled", null),
        JobExpired => ("expired", null),
        _ => ("skipped", null),
    };

    /// <summary>
    /// Commits an attempt's outcome, retrying with backoff for at most <paramref name="window"/> (a database outage is
    /// waited out). If it still fails, the job stays Started: the core's reconciler re-queues it after its lease and
    /// records the possible duplicate, which is the truth, where failing it would claim a delivered job was not sent.
    /// </summary>
    private static async Task<bool> CommitOutcomeAsync(Guid jobId, JobJournal journal, Job held, TimeSpan window, ILogger logger, JobJournal.Decide decide)
    {
        var giveUpAt = DateTimeOffset.UtcNow + window;
        for (var delay = TimeSpan.FromMilliseconds(250); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks)))
        {
            try
            {
                await journal.AppendAsync(jobId, decide, held);
                return true;
            }
            catch (Exception e) when (FromTheDatabase(e) && DateTimeOffset.UtcNow + delay < giveUpAt)
            {
                // The exception goes in as the exception, which the log redacts; its message may quote PostgreSQL's, and the data.
                logger.LogWarning(e, "Recording the outcome of job {JobId} failed; retrying in {Delay}", jobId, delay);
                await Task.Delay(delay, CancellationToken.None); // not on shutdown: the outcome of a finished send is worth the wait
            }
            catch (Exception e)
            {
                logger.LogError(e, "Could not record the outcome of job {JobId}; it stays Started for the reconciler", jobId);
                return false;
            }
        }
    }

    /// <summary>A retry keeps the priority its job was queued with (fair sharing): a heavy service's retries stay behind lighter services' jobs.</summary>
    private static DeliveryOptions Retry(DateTimeOffset at, Envelope envelope) =>
        AdapterQueues.PriorityOf(envelope) is { } priority
            ? new DeliveryOptions { ScheduledTime = at }.WithHeader(AdapterQueues.PriorityHeader, priority.ToString())
            : new DeliveryOptions { ScheduledTime = at };

    /// <summary>Anything PostgreSQL refused or the connection lost; a bug in the decision is not worth waiting on.</summary>
    private static bool FromTheDatabase(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException) return true;
        return false;
    }

    private static async Task<(DeliveryResult Result, bool Canceled)> SendAsync(
        ChannelDelivery delivery, IChannelSender channel, InFlightJobs inFlight, ILogger logger, CancellationToken shutdown)
    {
        using var tracked = inFlight.Track(delivery.JobId, shutdown);
        try
        {
            return (await channel.SendAsync(delivery, tracked.Token), false);
        }
        catch (OperationCanceledException) when (tracked.IsCancellationRequested && !shutdown.IsCancellationRequested)
        {
            return (new DeliveryResult.Transient("The send was aborted by a cancellation."), true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A sender should classify its own failures; anything it did not is treated as transient and retried.
            logger.LogWarning(e, "Unclassified failure sending job {JobId}", delivery.JobId);
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
