using Marten;
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
/// ends Failed with the reason, the message goes to the dead-letter queue, and the queue keeps flowing.
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
            var logger = runtime.LoggerFactory.CreateLogger(typeof(PoisonMessages));
            try
            {
                await using var session = runtime.Services.GetRequiredService<IDocumentStore>().LightweightSession();
                var stream = await session.Events.FetchForExclusiveWriting<Job>(message.JobId);
                if (stream.Aggregate is { } job && JobLifecycle.OnPoisonMessage(job, $"{exception.GetType().Name}: {exception.Message}",
                        runtime.Services.GetRequiredService<TimeProvider>().GetUtcNow()) is { Count: > 0 } events)
                {
                    stream.AppendMany(events);
                    await session.SaveChangesAsync();
                }
            }
            catch (Exception e)
            {
                logger.LogError(e, "Could not record job {JobId} as failed; its message still goes to the dead-letter queue", message.JobId);
            }
        }
        await lifecycle.MoveToDeadLetterQueueAsync(exception);
    }
}
