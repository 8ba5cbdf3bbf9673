using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NotificationService.Adapters.Webhook;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// An installation upgraded to fair sharing has adapter queues declared without priority levels, which RabbitMQ cannot
/// change in place: they are recreated with them at start-up, keeping the messages waiting in them.
/// </summary>
public sealed class when_an_adapter_queue_predates_fair_sharing(SystemFixture system) : IntegrationContext(system)
{
    private static readonly Dictionary<string, object?> OldArguments = new() { ["x-dead-letter-exchange"] = "wolverine-dead-letter-queue" };

    [Fact]
    public async Task its_waiting_messages_are_kept_in_the_recreated_priority_queue()
    {
        var queue = $"{AdapterQueues.Prefix}old-{Guid.NewGuid():N}";
        await using var connection = await new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMq) }.CreateConnectionAsync();
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(queue, true, false, false, OldArguments);
            foreach (var body in new[] { "a", "b", "c" }) await channel.BasicPublishAsync("", queue, Encoding.UTF8.GetBytes(body));
        }

        await AdapterQueues.PrepareAsync(TestEnvironment.RabbitMq, [queue], NullLogger.Instance);
        await AdapterQueues.PrepareAsync(TestEnvironment.RabbitMq, [queue], NullLogger.Instance); // a second start changes nothing

        await using var check = await connection.CreateChannelAsync();
        await Assert.ThrowsAsync<OperationInterruptedException>(() => check.QueueDeclarePassiveAsync(AdapterQueues.AsideOf(queue)));
        await using var read = await connection.CreateChannelAsync();
        // Declaring it as Wolverine now does (with priorities) succeeds only if it really was recreated with them.
        Assert.Equal(3u, (await read.QueueDeclareAsync(queue, true, false, false, new Dictionary<string, object?>(OldArguments) { ["x-max-priority"] = 9 })).MessageCount);
        var bodies = new List<string>();
        while (await read.BasicGetAsync(queue, autoAck: true) is { } message) bodies.Add(Encoding.UTF8.GetString(message.Body.Span));
        Assert.Equal(["a", "b", "c"], bodies);
        await read.QueueDeleteAsync(queue);
    }

    [Fact]
    public async Task a_worker_starts_on_its_old_queue_and_delivers()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var adapter = await System.CreateAdapterAsync($"old-{Guid.NewGuid():N}"[..20], "webhook",
            new { url = receiver.BaseUrl + "/in", secret = "webhook-secret-0123456789", allowPrivateNetwork = true });
        await using (var connection = await new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMq) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
            await channel.QueueDeclareAsync(adapter.Queue, true, false, false, OldArguments); // as the previous version left it

        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);

        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { } } } } });
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State);
    }
}
