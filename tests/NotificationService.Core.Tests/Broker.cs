using NotificationService.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace NotificationService.Core.Tests;

public static class Broker
{
    /// <summary>
    /// Messages waiting in a queue (ready, not yet delivered to a consumer), read from the real broker. An adapter's queue
    /// is declared by the core's first send to it, which comes after the offer's response (SendWithoutWaiting), or by its
    /// worker: where that may not have happened yet, <paramref name="missingIsEmpty"/> counts a queue not declared as empty.
    /// </summary>
    public static async Task<uint> QueueDepthAsync(string queue, bool missingIsEmpty = false)
    {
        try
        {
            return await OnChannelAsync(async channel => (await channel.QueueDeclarePassiveAsync(queue)).MessageCount);
        }
        catch (OperationInterruptedException e) when (missingIsEmpty && e.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }

    /// <summary>Deletes every message waiting in a queue: a message lost on the way to the workers.</summary>
    public static Task PurgeAsync(string queue) => OnChannelAsync(channel => channel.QueuePurgeAsync(queue));

    /// <summary>Deletes queues whether or not they hold messages; a queue already gone is fine.</summary>
    public static Task DeleteQueuesAsync(IEnumerable<string> queues) => OnChannelAsync(async channel =>
    {
        foreach (var queue in queues) await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
    });

    private static Task OnChannelAsync(Func<IChannel, Task> use) => OnChannelAsync(async channel =>
    {
        await use(channel);
        return true;
    });

    /// <summary>A channel of its own, as the operator (guest), closed afterwards.</summary>
    private static async Task<T> OnChannelAsync<T>(Func<IChannel, Task<T>> use)
    {
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.OperatorRabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return await use(channel);
    }
}
