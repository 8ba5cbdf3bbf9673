using Marten;
using Marten.Services;
using Wolverine;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Messages that an endpoint stores in its transaction's outbox, as any Wolverine cascade does, and that are sent to the
/// broker after the commit without the response waiting for them. Wolverine flushes an HTTP endpoint's outbox inside the
/// commit, so the response waited for the broker's publisher confirm and for the outbox row's delete: two more round
/// trips after the one that made the request durable (bench/README.md, "The accept no longer waits for the broker").
/// Once committed, the outbox row is the guarantee: a process that dies before the send leaves it to Wolverine's recovery,
/// as it did between a commit and an inline send.
/// </summary>
public sealed record SendAfterCommit(OutgoingMessages Messages) : ISideEffect
{
    public void Execute(IDocumentSession session, IWolverineRuntime runtime, ILogger<SendAfterCommit> logger)
    {
        if (Messages.Count == 0) return;
        // An outbox of its own, so nothing else flushes these envelopes (the generated endpoint flushes the request's
        // context inside the commit and again at its end). Enrolling it adds the Wolverine listener that would flush it
        // inside the commit too; the listener below flushes it after the commit instead.
        var listeners = session.Listeners.Count;
        var outbox = new MartenOutbox(runtime, session);
        while (session.Listeners.Count > listeners) session.Listeners.RemoveAt(listeners);
        session.Listeners.Add(new Outbox(outbox, Messages, logger));
    }

    private sealed class Outbox(MartenOutbox outbox, OutgoingMessages messages, ILogger logger) : DocumentSessionListenerBase
    {
        private bool _enqueued;

        // Before the batch is built, so the outbox rows are written in the same transaction as everything else.
        public override async Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            if (_enqueued) return;
            _enqueued = true;
            await outbox.EnqueueCascadingAsync(messages);
        }

        public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
        {
            _ = Task.Run(FlushAsync, CancellationToken.None);
            return Task.CompletedTask;
        }

        private async Task FlushAsync()
        {
            try
            {
                await outbox.FlushOutgoingMessagesAsync();
            }
            catch (Exception e)
            {
                // Wolverine logs a failed send itself and keeps its outbox row; this is anything else.
                logger.LogError(e, "Sending the messages of a committed transaction failed; their outbox rows stay for Wolverine's recovery");
            }
        }
    }
}
