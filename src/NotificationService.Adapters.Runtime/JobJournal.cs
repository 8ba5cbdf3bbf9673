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
/// events are committed. A batch that fails on a job that moved on since its start retries that job alone under its lock and the rest together;
/// one that fails otherwise is retried one write at a time, so one bad job cannot fail its neighbours.
/// </summary>
public sealed class JobJournal(IDocumentStore store, ILogger<JobJournal> logger)
{
    private const int MaximumBatch = 64;

    /// <summary>Decides, from the job as it was read, held or locked, which events to append (none is fine).</summary>
    public delegate IReadOnlyList<object> Decide(Job? job);

    /// <summary><paramref name="Caller"/>: the span the write was asked in (the job's handler), which its commit belongs to.
    /// <paramref name="Held"/>: the job as the caller knows it committed, to decide from without reading or locking it.
    /// <paramref name="Locked"/>: decided under the stream lock, after an optimistic append found the job changed.</summary>
    private sealed record Write(Guid JobId, Decide Decide, TaskCompletionSource Committed, Activity? Caller, Guid? CallerJob, Job? Held, bool Locked = false);

    private static readonly ActivitySource Tracing = new(Telemetry.SourceName);

    private readonly Lock _gate = new();
    private List<Write> _pending = [];
    private bool _flushing;

    /// <summary>
    /// Reads the job, appends what <paramref name="decide"/> returns at the stream version it read, and commits.
    /// Optimistic: mt_quick_append_events checks the version in the append itself, so anything appended since the read (a
    /// cancel, a re-queue, another worker's start) fails it, and the write is then decided again under the stream's lock
    /// from the job as it now is. <paramref name="decide"/> may run more than once (that, or a shared batch falling back
    /// to single writes); only its last run is committed.
    /// </summary>
    /// <param name="held">
    /// The job as the caller knows it was committed (its <see cref="Job.Version"/> the stream's), e.g. the worker's own
    /// start: <paramref name="decide"/> runs on it and the job is not read at all (the commit stores the job the events
    /// make of a copy of it, <see cref="JobStreamAppend"/>).
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
        // Two writes of one job cannot share a commit: both would decide from the same version.
        if (batch.Count > 1 && batch.DistinctBy(w => w.JobId).Count() == batch.Count)
        {
            Exception failure;
            try
            {
                await CommitTogetherAsync(batch);
                foreach (var write in batch) write.Committed.TrySetResult();
                return;
            }
            catch (Exception e)
            {
                failure = e;
            }
            // A job that moved on since its start (a cancel, a re-queue) is the common failure: only it is decided again
            // under its lock, and the rest commit together again.
            if (IsVersionConflict(failure) && await StaleAsync(batch) is { Count: > 0 } stale && stale.Count < batch.Count)
            {
                logger.LogDebug(failure, "{Stale} of a batch of {Count} job writes were stale; the rest commit together", stale.Count, batch.Count);
                foreach (var write in stale) await CommitSettlingAsync(write with { Held = null, Locked = true });
                await CommitAsync(batch.Except(stale).ToList());
                return;
            }
            logger.LogDebug(failure, "A batch of {Count} job writes failed; committing them one at a time", batch.Count);
        }
        foreach (var write in batch) await CommitSettlingAsync(write);
    }

    private async Task CommitSettlingAsync(Write write)
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

    /// <summary>The held writes whose job has moved past the version they hold (the ones an optimistic append fails).</summary>
    private async Task<List<Write>> StaleAsync(List<Write> batch)
    {
        try
        {
            await using var session = store.QuerySession();
            var current = (await session.LoadManyAsync<Job>(batch.Select(w => w.JobId).ToArray())).ToDictionary(j => j.Id, j => j.Version);
            return batch.Where(w => w.Held is not null && current.GetValueOrDefault(w.JobId) != w.Held.Version).ToList();
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "Could not tell the stale writes of a batch apart");
            return [];
        }
    }

    /// <summary>Commits so far (a batch counts once): how tests see that writes shared a commit.</summary>
    public long Commits => Interlocked.Read(ref _commits);
    private long _commits;

    private async Task CommitAloneAsync(Write write)
    {
        try
        {
            await CommitTogetherAsync([write]);
        }
        // A held write also when it failed otherwise: deciding again from the job as it is costs one read, and a write from
        // a held copy is the one path that can be wrong about its job. (A job deleted since its start
        // reads as version 0 and fails the expected version in mt_quick_append_events, FOR UPDATE, MT003.)
        catch (Exception e) when (!write.Locked && (IsVersionConflict(e) || write.Held is not null))
        {
            // The job moved on since it was read or held (a cancel, a re-queue, a redelivery's start, a deletion): decide
            // again from the job as it is, under its lock.
            logger.LogDebug(e, "Job {JobId} changed since its worker read it; deciding again under its lock", write.JobId);
            await CommitTogetherAsync([write with { Held = null, Locked = true }]);
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
        var decided = new List<(Job? Before, IReadOnlyList<object> Events)>(writes.Count);
        // Only a write whose optimistic append failed takes the stream lock, and it commits alone.
        foreach (var write in writes.Where(w => w.Locked))
        {
            var stream = await session.Events.FetchForExclusiveWriting<Job>(write.JobId);
            var events = write.Decide(stream.Aggregate);
            if (events.Count > 0) stream.AppendMany(events);
            decided.Add((stream.Aggregate, events));
        }
        // Every job to read, in one statement, and nothing locked: each append locks its stream row only as it runs, in
        // the jobs' order. Should two commits still meet in a deadlock, PostgreSQL fails one, and it is retried one write
        // at a time.
        var toRead = writes.Where(w => !w.Locked && w.Held is null).Select(w => w.JobId).ToArray();
        // Read on the connection the commit takes anyway, opened first, so Marten's hook prepares the read like the writes:
        // on a connection Marten opened for the read alone it ran unprepared, parsed and planned for every start
        // (bench/README.md, "Statements that ran unprepared, and where PostgreSQL's CPU goes"). Read committed: the read
        // sees what it saw before.
        if (toRead.Length > 0) await session.BeginTransactionAsync(CancellationToken.None);
        var read = toRead.Length == 0 ? new Dictionary<Guid, Job>() : (await session.LoadManyAsync<Job>(toRead)).ToDictionary(j => j.Id);
        foreach (var write in writes.Where(w => !w.Locked).OrderBy(w => w.JobId))
        {
            var job = write.Held ?? read.GetValueOrDefault(write.JobId);
            var events = write.Decide(job);
            // The events and the job they make in one statement, at the version decided from: mt_quick_append_events checks
            // it in the append itself. (A job that is not there has nothing to decide: every Decide returns none for it.)
            if (events.Count > 0 && job is not null) session.QueueOperation(new JobStreamAppend(job, events));
            else if (events.Count > 0) session.Events.Append(write.JobId, events.Count, events.ToArray());
            decided.Add((job, events));
        }
        await session.SaveChangesAsync();
        Interlocked.Increment(ref _commits);
        // Counted once committed: a batch that fails is decided and counted again, one write at a time.
        foreach (var (before, events) in decided) JobMetrics.Committed(before, events);
    }
}
