using NotificationService.Testing;
using RabbitMQ.Client;

namespace NotificationService.Core.Tests;

public static class Broker
{
    /// <summary>Messages waiting in a queue (ready, not yet delivered to a consumer), read from the real broker.</summary>
    public static async Task<uint> QueueDepthAsync(string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.OperatorRabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }

    /// <summary>Deletes every message waiting in a queue: a message lost on the way to the workers.</summary>
    public static async Task PurgeAsync(string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.OperatorRabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.QueuePurgeAsync(queue);
    }

    /// <summary>Deletes queues whether or not they hold messages; a queue already gone is fine.</summary>
    public static async Task DeleteQueuesAsync(IEnumerable<string> queues)
    {
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.OperatorRabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var queue in queues) await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
    }
}
