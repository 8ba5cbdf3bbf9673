namespace NotificationService.Storage.Jobs;

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

/// <summary>Decisions the core takes on a job's stream, as pure functions of its state and the time.</summary>
public static class JobLifecycle
{
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

    /// <summary>The sweeper's decision: a job still waiting when its expiry passes ends Expired and is never sent.</summary>
    public static JobExpired? OnSweep(Job job, DateTimeOffset now) =>
        job.State is JobState.Scheduled or JobState.Queued && job.IsExpiredAt(now) ? new JobExpired(job.Id, now) : null;

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
}
