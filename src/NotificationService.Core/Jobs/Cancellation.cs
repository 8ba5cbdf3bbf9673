using JasperFx.Events;
using NotificationService.Contracts;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Applies a cancel decision to a job stream fetched for exclusive writing; used by job and offer cancels. Returns the
/// job's state once the commit lands, and the broadcast to send when a worker may be sending it now.
/// </summary>
public static class Cancellation
{
    public static (JobState State, JobCancellationBroadcast? Broadcast) Apply(IEventStream<Job> stream, string requestedBy, DateTimeOffset now)
    {
        var job = stream.Aggregate!;
        if (JobLifecycle.OnCancel(job, requestedBy, now) is not CancelDecision.Cancel cancel) return (job.State, null);
        stream.AppendMany(cancel.Events);
        var state = cancel.Events.Any(e => e is JobCanceled) ? JobState.Canceled : job.State;
        return (state, cancel.Broadcast ? new JobCancellationBroadcast(stream.Id, job.AdapterId) : null);
    }
}
