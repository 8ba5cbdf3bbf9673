using Marten;
using Microsoft.Extensions.Logging;
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

    private sealed record Write(Guid JobId, Decide Decide, TaskCompletionSource Committed);

    private readonly Lock _gate = new();
    private List<Write> _pending = [];
    private bool _flushing;

    /// <summary>
    /// Locks the job's stream, appends what <paramref name="decide"/> returns and commits. <paramref name="decide"/> may run
    /// more than once (when a shared batch falls back to single writes); only its last run is committed.
    /// </summary>
    public Task AppendAsync(Guid jobId, Decide decide)
    {
        var write = new Write(jobId, decide, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
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
        await using var session = store.LightweightSession();
        // Every stream is locked and loaded in one round trip, in one order for every batch in every worker, so two
        // batches can never deadlock on each other's streams.
        var batch = session.CreateBatchQuery();
        var fetches = writes.OrderBy(w => w.JobId).Select(w => (Write: w, Stream: batch.Events.FetchForExclusiveWriting<Job>(w.JobId))).ToList();
        await batch.Execute();
        foreach (var (write, fetch) in fetches)
        {
            var stream = await fetch;
            var events = write.Decide(stream.Aggregate);
            if (events.Count > 0) stream.AppendMany(events);
        }
        await session.SaveChangesAsync();
    }
}
