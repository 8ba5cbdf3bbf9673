using Marten;
using Marten.Services;
using Wolverine;
using Wolverine.Marten;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Messages an endpoint stores in its transaction's outbox like any cascade, whose send the response does not wait for:
/// Wolverine's own flush runs before <c>SaveChangesAsync</c> returns, publish, broker confirm and outbox delete included
/// (bench/README.md, "The accept no longer waits for the broker"). The committed outbox row is the guarantee.
/// </summary>
public sealed record SendWithoutWaiting(OutgoingMessages Messages) : ISideEffect
{
    public void Execute(IDocumentSession session, IWolverineRuntime runtime, BackgroundSends sends)
    {
        if (Messages.Count == 0) return;
        // An outbox of its own, so that nothing else flushes these envelopes (the generated endpoint flushes the request's
        // context twice). Enrolling it adds Wolverine's flushing listener; the one added here takes its place.
        var listeners = session.Listeners.Count;
        var outbox = new MartenOutbox(runtime, session);
        while (session.Listeners.Count > listeners) session.Listeners.RemoveAt(listeners);
        session.Listeners.Add(new FlushInBackground(outbox, Messages, sends));
    }

    private sealed class FlushInBackground(MartenOutbox outbox, OutgoingMessages messages, BackgroundSends sends) : DocumentSessionListenerBase
    {
        // Each step once, should the session be saved again: a second enqueue would store the rows twice, a second flush
        // started before the first ended would send the envelopes twice.
        private bool _enqueued, _flushed;

        // Before Marten builds the batch, so the outbox rows are written in the same transaction as everything else.
        public override async Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            if (_enqueued) return;
            _enqueued = true;
            await outbox.EnqueueCascadingAsync(messages);
        }

        public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
        {
            if (_flushed) return Task.CompletedTask;
            _flushed = true;
            return sends.FlushAsync(outbox);
        }
    }
}

/// <summary>
/// The sends no request waits for. At most <see cref="MaxInFlight"/> at once, holding at most
/// <see cref="MaxMessagesInFlight"/> messages between them: while the broker blocks publishers (a memory or disk alarm) a
/// send never finishes, and when it is merely slower than the accepts (a flood of many-target offers) each waiting
/// message is kept in memory until the broker confirms it. Beyond either bound the requests wait for their own sends
/// again, as they did before, instead of piling up sends. Stopping the host waits for the sends in flight (this service
/// stops before Wolverine, which was registered first), so a restart does not cut a publish off from its outbox delete.
/// </summary>
public sealed class BackgroundSends(ILogger<BackgroundSends> logger) : IHostedService
{
    public const int MaxInFlight = 100;

    /// <summary>
    /// A hundred sends of one message each, or ten offers of 100 targets: counted by offers alone, a tenant flooding
    /// 100-target offers kept 9,500 envelopes waiting for the broker in the core's memory, long enough to be promoted to
    /// its oldest generation (bench/README.md, "The fairness flood's envelopes").
    /// </summary>
    public const int MaxMessagesInFlight = 1_000;

    private readonly SemaphoreSlim _slots = new(MaxInFlight);
    private int _messages;

    /// <summary>The sends in the background now: one ends after its broker confirms and its outbox rows are deleted.</summary>
    public int InFlight => MaxInFlight - _slots.CurrentCount;

    /// <summary>Starts the flush on the thread pool and returns, or, with no room left, returns the flush itself.</summary>
    public Task FlushAsync(MartenOutbox outbox)
    {
        var messages = outbox.Outstanding.Count();
        if (!TryReserve(messages)) return SendAsync(outbox);
        _ = Task.Run(async () =>
        {
            try { await SendAsync(outbox); }
            finally
            {
                Interlocked.Add(ref _messages, -messages);
                _slots.Release();
            }
        });
        return Task.CompletedTask;
    }

    // An offer of more messages than the bound (a service's jobsPerOffer may be up to 10,000) goes to the background only
    // when no other send is there.
    private bool TryReserve(int messages)
    {
        if (!_slots.Wait(0)) return false;
        var reserved = Interlocked.Add(ref _messages, messages);
        if (reserved <= MaxMessagesInFlight || reserved == messages) return true;
        Interlocked.Add(ref _messages, -messages);
        _slots.Release();
        return false;
    }

    private async Task SendAsync(MartenOutbox outbox)
    {
        try
        {
            // Several messages for the broker (a ten-target offer): Wolverine's grouped send, which deletes their outbox rows in
            // one statement once the broker has confirmed them all, where the sending agent deleted each row on its own (it
            // only logs a failed delete, which the agent retried: such rows wait for recovery after a restart). One (most
            // offers; a fallback's local timer does not count): the sending agent, whose deletes under load follow RabbitMQ's
            // confirms of several publishes at once, which the grouped send gave up (bench/README.md, "One outbox delete
            // per offer, not per job").
            if (outbox.Outstanding.Count(e => e.Destination?.Scheme != TransportConstants.Local) > 1) await outbox.SendAllOutgoingMessagesInlineAsync();
            else await outbox.FlushOutgoingMessagesAsync();
        }
        catch (Exception e)
        {
            // Wolverine logs a failed send itself and keeps its outbox row; this is anything else.
            logger.LogError(e, "Sending the messages of a committed transaction failed; their outbox rows stay for Wolverine's recovery");
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (InFlight > 0) await Task.Delay(10, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("Stopped with {Count} sends in flight; their outbox rows stay for Wolverine's recovery", InFlight);
        }
    }
}
