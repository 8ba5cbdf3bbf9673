namespace NotificationService.Storage.Jobs;

/// <summary>What a cancel request does to a job, decided from its state alone.</summary>
public abstract record CancelDecision
{
    /// <summary>Already ended; nothing changes (the API answers 409).</summary>
    public sealed record AlreadyEnded(JobState State) : CancelDecision;
    /// <summary>Append these events; <see cref="Broadcast"/> when a worker may be sending it right now.</summary>
    public sealed record Cancel(IReadOnlyList<object> Events, bool Broadcast) : CancelDecision;
}

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
}
