using System.Diagnostics;
using JasperFx;
using Marten;
using Microsoft.Extensions.Logging;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// The worker's one write path for job events (why not Wolverine's transaction: <see cref="DeliverJobHandler"/>): the
/// start and outcome of each send, and a poison message's failure. Group commit for the worker's job records. Every send writes its job's stream twice (started, then the outcome), and
/// with many sends in flight those writes were one transaction each. Here one commit is in flight at a time and every
/// write that arrives meanwhile joins the next one, so a lone write still commits at once and batches form from
/// concurrency alone (the shape of Wolverine's own envelope coalescers). Each caller's task completes only when its own
/// events are committed. A batch that fails is retried one write at a time, so one bad job cannot fail its neighbours.
/// </summary>
public sealed class JobJournal(IDocumentStore store, ILogger<JobJournal> logger)
{
    private const int MaximumBatch = 64;

    /// <summary>Decides, from the job as it is under its stream lock, which events to append (none is fine).</summary>
    public delegate IReadOnlyList<object> Decide(Job? job);

    /// <summary><paramref name="Caller"/>: the span the write was asked in (the job's handler), which its commit belongs to.
    /// <paramref name="Held"/>: the job as the caller knows it committed, to decide from without reading or locking it.</summary>
    private sealed record Write(Guid JobId, Decide Decide, TaskCompletionSource Committed, Activity? Caller, Guid? CallerJob, Job? Held);

    private static readonly ActivitySource Tracing = new(Telemetry.SourceName);

    private readonly Lock _gate = new();
    private List<Write> _pending = [];
    private bool _flushing;

    /// <summary>
    /// Locks the job's stream, appends what <paramref name="decide"/> returns and commits. <paramref name="decide"/> may run
    /// more than once (when a shared batch falls back to single writes); only its last run is committed.
    /// </summary>
    /// <param name="held">
    /// The job as the caller knows it was committed (its <see cref="Job.Version"/> the stream's), e.g. the worker's own
    /// start: then <paramref name="decide"/> runs on it and the events are appended optimistically at that version, with
    /// no lock and no read of the caller's own. Anything appended meanwhile (a cancel, a re-queue) fails that append in
    /// the same statement, and the write is decided again under the stream lock from the job as it now is.
    /// </param>
    public Task AppendAsync(Guid jobId, Decide decide, Job? held = null)
    {
        var write = new Write(jobId, decide, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), Activity.Current, Telemetry.CurrentJob, held);
        bool startFlushing;
        lock (_gate)
        {
            _pending.Add(write);
            startFlushing = !_flushing;
            _flushing = true;
        }
        if (startFlushing) _ = Task.Run(FlushAsync);
        return write.Committed.Task;
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            List<Write> batch;
            lock (_gate)
            {
                if (_pending.Count == 0) { _flushing = false; return; }
                batch = _pending.GetRange(0, Math.Min(_pending.Count, MaximumBatch));
                _pending.RemoveRange(0, batch.Count);
            }
            await CommitAsync(batch);
        }
    }

    private async Task CommitAsync(List<Write> batch)
    {
        if (batch.Count > 1)
        {
            try
            {
                await CommitTogetherAsync(batch);
                foreach (var write in batch) write.Committed.TrySetResult();
                return;
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "A batch of {Count} job writes failed; committing them one at a time", batch.Count);
            }
        }
        foreach (var write in batch)
        {
            try
            {
                await CommitAloneAsync(write);
                write.Committed.TrySetResult();
            }
            catch (Exception e)
            {
                write.Committed.TrySetException(e);
            }
        }
    }

    private async Task CommitAloneAsync(Write write)
    {
        try
        {
            await CommitTogetherAsync([write]);
        }
        catch (Exception e) when (write.Held is not null && IsVersionConflict(e))
        {
            // The job moved on since the caller's copy (a cancel, a re-queue, a redelivery's start): decide again from the
            // job as it is, under its lock.
            logger.LogDebug(e, "Job {JobId} changed since its worker read it; deciding again under its lock", write.JobId);
            await CommitTogetherAsync([write with { Held = null }]);
        }
    }

    private static bool IsVersionConflict(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is ConcurrencyException or JasperFx.Events.EventStreamUnexpectedMaxEventIdException) return true;
        return false;
    }

    private async Task CommitTogetherAsync(IReadOnlyList<Write> writes)
    {
        // The flush loop runs in the context of whichever write started it, so its ambient span is some earlier job's.
        // A lone write's commit belongs to its own job's span; a batch gets a span of its own, linked to each job's.
        // (Setting Activity.Current here does not leak: an async method restores its caller's context on return.)
        Activity.Current = writes.Count == 1 ? writes[0].Caller : null;
        Telemetry.WorkingFor(writes.Count == 1 ? writes[0].CallerJob : null);
        using var batchSpan = writes.Count == 1 || !Tracing.HasListeners() ? null
            : Tracing.StartActivity(ActivityKind.Internal, default(ActivityContext), links: writes.Where(w => w.Caller is not null).Select(w => new ActivityLink(w.Caller!.Context)),
                name: "job journal commit");
        batchSpan?.SetTag("ns.batch_size", writes.Count);
        await using var session = store.LightweightSession();
        // Every stream without a held copy is locked and loaded in one round trip, in one order for every batch in every
        // worker, so two batches can never deadlock on each other's locks. (An optimistic append locks its stream row only
        // as it appends, in the same order; the rare cycle with another worker's lock is PostgreSQL's deadlock error, and
        // the batch is retried one write at a time.)
        var decided = new List<(Job? Before, IReadOnlyList<object> Events)>(writes.Count);
        var locked = writes.Where(w => w.Held is null).OrderBy(w => w.JobId).ToList();
        if (locked.Count > 0)
        {
            var batch = session.CreateBatchQuery();
            var fetches = locked.Select(w => (Write: w, Stream: batch.Events.FetchForExclusiveWriting<Job>(w.JobId))).ToList();
            await batch.Execute();
            foreach (var (write, fetch) in fetches)
            {
                var stream = await fetch;
                var events = write.Decide(stream.Aggregate);
                if (events.Count > 0) stream.AppendMany(events);
                decided.Add((stream.Aggregate, events));
            }
        }
        foreach (var write in writes.Where(w => w.Held is not null).OrderBy(w => w.JobId))
        {
            var events = write.Decide(write.Held);
            // The version the stream reaches with these events: mt_quick_append_events checks it in the append itself.
            if (events.Count > 0) session.Events.Append(write.JobId, write.Held!.Version + events.Count, events.ToArray());
            decided.Add((write.Held, events));
        }
        await session.SaveChangesAsync();
        // Counted once committed: a batch that fails is decided and counted again, one write at a time.
        foreach (var (before, events) in decided) JobMetrics.Committed(before, events);
    }
}
