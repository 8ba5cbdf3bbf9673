using System.Collections.Concurrent;

namespace NotificationService.Adapters.Runtime;

/// <summary>The jobs this worker node is sending right now, so a cancellation broadcast can abort the right send.</summary>
public sealed class InFlightJobs
{
    private readonly ConcurrentDictionary<Guid, CancellationTokenSource> _sending = new();

    /// <summary>How many sends are in hand now (reported in the worker's heartbeat).</summary>
    public int Count => _sending.Count;

    public Tracked Track(Guid jobId, CancellationToken shutdown)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        _sending[jobId] = source;
        return new Tracked(this, jobId, source);
    }

    /// <summary>True when this node was sending the job and has now aborted it.</summary>
    public bool Cancel(Guid jobId)
    {
        if (!_sending.TryGetValue(jobId, out var source)) return false;
        try { source.Cancel(); } catch (ObjectDisposedException) { return false; }
        return true;
    }

    public sealed class Tracked(InFlightJobs owner, Guid jobId, CancellationTokenSource source) : IDisposable
    {
        public CancellationToken Token => source.Token;
        public bool IsCancellationRequested => source.IsCancellationRequested;


        public void Dispose()
        {
            owner._sending.TryRemove(new KeyValuePair<Guid, CancellationTokenSource>(jobId, source));
            source.Dispose();
        }
    }
}
