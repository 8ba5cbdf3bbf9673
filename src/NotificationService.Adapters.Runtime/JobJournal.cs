using System.Diagnostics;
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

    /// <summary><paramref name="Caller"/>: the span the write was asked in (the job's handler), which its commit belongs to.</summary>
    private sealed record Write(Guid JobId, Decide Decide, TaskCompletionSource Committed, Activity? Caller, Guid? CallerJob);

    private static readonly ActivitySource Tracing = new(Telemetry.SourceName);

    private readonly Lock _gate = new();
    private List<Write> _pending = [];
    private bool _flushing;

    /// <summary>
    /// Locks the job's stream, appends what <paramref name="decide"/> returns and commits. <paramref name="decide"/> may run
    /// more than once (when a shared batch falls back to single writes); only its last run is committed.
    /// </summary>
    public Task AppendAsync(Guid jobId, Decide decide)
    {
        var write = new Write(jobId, decide, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), Activity.Current, Telemetry.CurrentJob);
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
                await CommitTogetherAsync([write]);
                write.Committed.TrySetResult();
            }
            catch (Exception e)
            {
                write.Committed.TrySetException(e);
            }
        }
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
        // Every stream is locked and loaded in one round trip, in one order for every batch in every worker, so two
        // batches can never deadlock on each other's streams.
        var batch = session.CreateBatchQuery();
        var fetches = writes.OrderBy(w => w.JobId).Select(w => (Write: w, Stream: batch.Events.FetchForExclusiveWriting<Job>(w.JobId))).ToList();
        await batch.Execute();
        var decided = new List<(Job? Before, IReadOnlyList<object> Events)>(fetches.Count);
        foreach (var (write, fetch) in fetches)
        {
            var stream = await fetch;
            var events = write.Decide(stream.Aggregate);
            if (events.Count > 0) stream.AppendMany(events);
            decided.Add((stream.Aggregate, events));
        }
        await session.SaveChangesAsync();
        // Counted once committed: a batch that fails is decided and counted again, one write at a time.
        foreach (var (before, events) in decided) JobMetrics.Committed(before, events);
    }
}
