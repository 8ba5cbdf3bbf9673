using NotificationService.Adapters.Webhook;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// Fair sharing of one adapter: a service's backlog on the adapter's queue does not hold back another service's job,
/// delivered through the real broker, worker host and a (slow) real webhook receiver.
/// </summary>
public sealed class when_one_service_floods_a_shared_adapter(SystemFixture system) : IntegrationContext(system)
{
    private const int Backlog = 60;

    [Fact]
    public async Task a_later_job_of_another_service_is_delivered_before_the_backlog_drains()
    {
        await using var receiver = await HttpPeer.StartAsync();
        receiver.BeforeReply = (_, ct) => Task.Delay(20, ct); // a receiver that takes its time
        var adapter = await System.CreateAdapterAsync($"shared-{Guid.NewGuid():N}"[..20], "webhook",
            new { url = receiver.BaseUrl + "/in", secret = "webhook-secret-0123456789", allowPrivateNetwork = true });
        var heavy = await System.CreateTenantAsync($"heavy-{Guid.NewGuid():N}"[..20]);
        var light = await System.CreateTenantAsync($"light-{Guid.NewGuid():N}"[..20]);
        object Target(int i) => new { adapter = adapter.Name, @params = new { payload = new { i } } };

        // The heavy service's whole backlog is waiting in the queue before the light service sends, and before any
        // worker runs: in a FIFO queue the light job would be the last of them.
        var flood = await System.CreateOfferAsync(heavy, new { targets = Enumerable.Range(0, Backlog).Select(Target).ToArray() });
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue, missingIsEmpty: true), n => n == Backlog, what: "the backlog in the queue");
        var lightJob = (await System.CreateOfferAsync(light, new { targets = new[] { Target(-1) } })).Jobs[0].Id;
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue, missingIsEmpty: true), n => n == Backlog + 1, what: "the light job in the queue");

        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey,
            settings: new Dictionary<string, string?> { ["Adapter:Parallelism"] = "1" });

        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(light, lightJob)).State);
        var order = receiver.Requests.Select(r => r.Headers.GetValueOrDefault(WebhookAdapterType.JobHeader)).ToList();
        var position = order.IndexOf(lightJob.ToString());
        // The heavy service's first 10 jobs went at the top priority too (Fairness:FreeJobs is 10 in the tests), and a
        // worker holds up to 2 prefetched messages: the light job comes within the first dozen or so, far from last.
        Assert.InRange(position, 0, 15);
        // The backlog still drains in full; and no outcome commit is left running into the next test's reset.
        foreach (var job in flood.Jobs) Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(heavy, job.Id)).State);
    }

    [Fact]
    public async Task a_retry_goes_back_to_the_queue_with_its_jobs_priority()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var adapter = await System.CreateAdapterAsync($"retry-{Guid.NewGuid():N}"[..20], "webhook",
            new { url = receiver.BaseUrl + "/in", secret = "webhook-secret-0123456789", allowPrivateNetwork = true },
            policy: new { maxAttempts = 3, initialBackoffSeconds = 3, maxBackoffSeconds = 3 });
        var light = await System.CreateTenantAsync($"light-{Guid.NewGuid():N}"[..20]); // a fresh service: top priority
        // The first try fails (503) and blocks the adapter meanwhile, so the paused worker leaves the retry in the queue to read.
        receiver.ReplyNextWith(new PeerReply(503, "busy"));
        var first = 0;
        receiver.BeforeReply = async (_, _) =>
        {
            if (Interlocked.Exchange(ref first, 1) == 0) await System.SendForStatusAsync(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/block", SystemFixture.AdminKey);
        };
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);
        var job = (await System.CreateOfferAsync(light, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { } } } } })).Jobs[0].Id;

        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue, missingIsEmpty: true), n => n == 1, TimeSpan.FromSeconds(20), "the retry in the queue");
        await using (var connection = await new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMq) }.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var retry = await channel.BasicGetAsync(adapter.Queue, autoAck: false);
            Assert.NotNull(retry);
            Assert.Equal(AdapterQueues.MaxPriority, retry.BasicProperties.Priority);
            await channel.BasicNackAsync(retry.DeliveryTag, multiple: false, requeue: true);
        }

        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/unblock", SystemFixture.AdminKey)).Status);
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(light, job)).State);
    }
}
