using NotificationService.Contracts;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Jobs;

/// <summary>
/// A cancel request's effect on one job, shared by the job and offer cancels: the events to append, the job's state once
/// they commit, and the broadcast to send when a worker may be sending it now.
/// </summary>
public sealed record Cancellation(IReadOnlyList<object> Events, JobState State, JobCancellationBroadcast? Broadcast)
{
    public static Cancellation Of(Job job, string requestedBy, DateTimeOffset now)
    {
        if (JobLifecycle.OnCancel(job, requestedBy, now) is not CancelDecision.Cancel cancel) return new([], job.State, null);
        var state = cancel.Events.Any(e => e is JobCanceled) ? JobState.Canceled : job.State;
        return new(cancel.Events, state, cancel.Broadcast ? new JobCancellationBroadcast(job.Id, job.AdapterId) : null);
    }
}
