using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NotificationService.Contracts;
using NotificationService.Storage.Jobs;
using Npgsql;
using Wolverine.Runtime;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// Tells a broken message from a broken dependency. The database or broker being briefly away is no reason to give up on
/// a job (the message waits and goes back to the queue); anything else that keeps failing is a poison message: its job
/// ends Failed with the reason, the message goes to Wolverine's durable dead-letter storage (this worker's envelope
/// schema, where the core's admin API lists, replays and discards it), and the queue keeps flowing.
/// </summary>
public static class PoisonMessages
{
    public static bool IsTransientInfrastructure(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is NpgsqlException { IsTransient: true } or TimeoutException or System.Net.Sockets.SocketException) return true;
        return false;
    }

    public static async ValueTask FailJobAndDeadLetterAsync(IWolverineRuntime runtime, Wolverine.IEnvelopeLifecycle lifecycle, Exception exception)
    {
        if (lifecycle.Envelope?.Message is DeliverJob message)
        {
            var clock = runtime.Services.GetRequiredService<TimeProvider>();
            var reason = $"{exception.GetType().Name}: {exception.Message}";
            try
            {
                // Through the journal: the worker's one write path for job events (why: DeliverJobHandler).
                await runtime.Services.GetRequiredService<JobJournal>().AppendAsync(message.JobId,
                    job => job is null ? [] : JobLifecycle.OnPoisonMessage(job, reason, clock.GetUtcNow()));
            }
            catch (Exception e)
            {
                runtime.LoggerFactory.CreateLogger(typeof(PoisonMessages))
                    .LogError(e, "Could not record job {JobId} as failed; its message still goes to the dead-letter queue", message.JobId);
            }
        }
        await DeadLetterAsync(runtime, lifecycle, exception);
    }

    /// <summary>
    /// Into the durable dead-letter table rather than RabbitMQ's dead-letter queue, where nobody could list or replay it.
    /// Not by switching the queue's native dead-lettering off: the adapter queues are declared with RabbitMQ's
    /// dead-letter exchange (AdapterQueues), a declaration without it would be refused, and a message Wolverine cannot
    /// even read still goes there. Should the database refuse the row, the broker's queue keeps the message.
    /// </summary>
    private static async ValueTask DeadLetterAsync(IWolverineRuntime runtime, Wolverine.IEnvelopeLifecycle lifecycle, Exception exception)
    {
        if (lifecycle.Envelope is { } envelope)
        {
            var stored = false;
            try
            {
                await runtime.Storage.Inbox.MoveToDeadLetterStorageAsync(envelope, exception);
                stored = true;
            }
            catch (Exception e)
            {
                runtime.LoggerFactory.CreateLogger(typeof(PoisonMessages))
                    .LogError(e, "Could not store dead letter {EnvelopeId}; it goes to the broker's dead-letter queue", envelope.Id);
            }
            // Stored: only acked, outside the try. A failed ack is not a failed store, and the broker redelivers the
            // message (a replay's new generation, or the job's end, makes the copy a skip) rather than dead-lettering it twice.
            if (stored)
            {
                await lifecycle.CompleteAsync();
                return;
            }
        }
        await lifecycle.MoveToDeadLetterQueueAsync(exception);
    }
}
