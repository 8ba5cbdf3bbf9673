using JasperFx.Events;
using Marten;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Wolverine.Marten;

namespace NotificationService.Core.Retention;

/// <summary>
/// Erasing a job's params: the <see cref="JobParamsErased"/> event (the Job document follows inline) and the params in
/// every stored event that carried them, in one transaction. The events are rewritten in SQL rather than with Marten's
/// <c>ApplyEventDataMasking</c> (present in Marten 9): that loads every matched event into the process (params may be
/// up to the 1 MiB body limit each), writes them back one UPDATE per event, and commits in a session of its own, apart
/// from the event that records the erasure. One statement per batch, in the caller's transaction, keeps the params in
/// PostgreSQL and the erasure all-or-nothing.
/// </summary>
public static class JobErasure
{
    /// <summary>The stored event types whose data holds <c>params</c> (Marten's names for JobScheduled, JobQueued, JobParamsUpdated).</summary>
    public static readonly string[] EventTypesWithParams = ["job_scheduled", "job_queued", "job_params_updated"];

    /// <summary>
    /// A request's decision for one job fetched for exclusive writing: a job not started is canceled first, so it is never
    /// sent with erased params; an ended one is erased; one being sent (Started) is left alone and reported as not ended.
    /// Returns whether the job's params are erased once the commit lands.
    /// </summary>
    public static ErasureOutcome Decide(IEventStream<Job> stream, string reason, string by, DateTimeOffset now)
    {
        var job = stream.Aggregate!;
        if (job.ParamsErasedAt is not null) return ErasureOutcome.AlreadyErased;
        if (job.IsInFlight) return ErasureOutcome.NotEnded;
        if (!job.IsTerminal)
        {
            // Not started: the cancel wins at once (JobCanceled in the same commit), as DELETE /v1/offers/{id} does.
            if (JobLifecycle.OnCancel(job, by, now) is not CancelDecision.Cancel { Events: var events } || !events.OfType<JobCanceled>().Any())
                return ErasureOutcome.NotEnded;
            stream.AppendMany(events);
        }
        stream.AppendOne(new JobParamsErased(job.Id, reason, by, now));
        return ErasureOutcome.Erased;
    }
}

public enum ErasureOutcome { Erased, AlreadyErased, NotEnded }

/// <summary>Rewrites <c>params</c> to <c>{"erased": true}</c> in the stored events of these jobs, in the session's transaction.</summary>
public sealed record MaskStoredParams(IReadOnlyCollection<Guid> JobIds) : IMartenOp
{
    public void Execute(IDocumentSession session)
    {
        if (JobIds.Count == 0) return;
        session.QueueSqlCommand(
            $"UPDATE {NotificationStore.Schema}.mt_events SET data = jsonb_set(data, '{{params}}', ?::jsonb) WHERE stream_id = ANY(?) AND type = ANY(?)",
            Job.ErasedParams.GetRawText(), JobIds.ToArray(), JobErasure.EventTypesWithParams);
    }
}
