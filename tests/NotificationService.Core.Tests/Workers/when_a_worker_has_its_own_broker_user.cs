using System.Diagnostics;
using System.Text;
using NotificationService.Adapters.Webhook;
using NotificationService.Contracts;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// Least privilege on the broker: a worker running as its adapter's own RabbitMQ user (`./ns rabbit-worker-user`)
/// delivers and retries its jobs, and that user is refused another adapter's queue, publishing straight to a queue and
/// the cancellation broadcast. Checked against the real broker.
/// </summary>
public sealed class when_a_worker_has_its_own_broker_user(SystemFixture system) : IntegrationContext(system)
{
    private const int AccessRefused = 403;

    [Fact]
    public async Task it_delivers_and_retries_its_own_jobs_and_is_refused_everything_else()
    {
        await using var receiver = await HttpPeer.StartAsync();
        receiver.ReplyNextWith(new PeerReply(500, "try again"));
        var config = new { url = receiver.BaseUrl + "/in", secret = "webhook-secret-0123456789", allowPrivateNetwork = true };
        var policy = new { maxAttempts = 3, initialBackoffSeconds = 0.2, maxBackoffSeconds = 0.5 };
        // Fixed names: the user (and its password file) is made once and reused by later runs. The other adapter's name
        // starts with this one's, so a permission regex that is not anchored would let it through.
        var own = await System.CreateAdapterAsync("broker-user-own", "webhook", config, policy);
        var other = await System.CreateAdapterAsync("broker-user-own.other", "webhook", config, policy);
        var user = await WorkerUserAsync(own.Name);
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", own.ApiKey,
            settings: new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = user });

        // Attempt 1 fails, so attempt 2 came back through ns.retries: publishing a retry is allowed.
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = own.Name, @params = new { payload = new { n = 1 } } } } });
        var job = await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(2, job.Attempts);

        // The other adapter's queue exists (its message waits there, with no worker), so a refusal is about permission.
        await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = other.Name, @params = new { payload = new { n = 2 } } } } });
        await Eventually.Until(() => Broker.QueueDepthAsync(other.Queue, missingIsEmpty: true), depth => depth >= 1, what: "the other adapter's message");
        await Broker.PurgeAsync(other.Queue); // an earlier run's message too
        await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = other.Name, @params = new { payload = new { n = 3 } } } } });
        await Eventually.Until(() => Broker.QueueDepthAsync(other.Queue), depth => depth == 1, what: "the other adapter's message");

        Assert.Null(await RefusalAsync(user, c => c.BasicConsumeAsync(own.Queue, autoAck: false, new AsyncEventingBasicConsumer(c))));
        Assert.Equal(AccessRefused, await RefusalAsync(user, c => c.BasicConsumeAsync(other.Queue, autoAck: false, new AsyncEventingBasicConsumer(c))));
        Assert.Equal(AccessRefused, await RefusalAsync(user, c => c.BasicGetAsync(other.Queue, autoAck: false)));
        Assert.Equal(AccessRefused, await RefusalAsync(user, c => c.QueuePurgeAsync(other.Queue)));
        Assert.Equal(AccessRefused, await RefusalAsync(user, c => PublishAsync(c, "", other.Queue)));
        Assert.Equal(AccessRefused, await RefusalAsync(user, c => PublishAsync(c, "", own.Queue)));
        Assert.Equal(AccessRefused, await RefusalAsync(user, c => PublishAsync(c, Topology.CancellationExchange, "")));
        Assert.Equal(1u, await Broker.QueueDepthAsync(other.Queue));
    }

    /// <summary>The adapter's worker user, made by the script operations use, in the vhost the tests run in.</summary>
    private static async Task<string> WorkerUserAsync(string adapter)
    {
        var broker = new Uri(TestEnvironment.RabbitMq);
        var vhost = Uri.UnescapeDataString(broker.AbsolutePath.TrimStart('/'));
        var start = new ProcessStartInfo(Path.Combine(WorkerProcess.RepositoryRoot(), "ns"), ["rabbit-worker-user", adapter])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
            Environment = { ["NS_RABBIT_VHOST"] = vhost.Length == 0 ? "/" : vhost, ["NS_RABBIT_PORT"] = broker.Port.ToString() },
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"./ns rabbit-worker-user failed: {await stderr}");
        return (await stdout).Trim();
    }

    private static Task PublishAsync(IChannel channel, string exchange, string routingKey) =>
        channel.BasicPublishAsync(exchange, routingKey, mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("{}")).AsTask();

    /// <summary>The reply code the broker closed the channel with (403: access refused), or null if it allowed the operation.</summary>
    private static async Task<int?> RefusalAsync(string user, Func<IChannel, Task> operation)
    {
        var factory = new ConnectionFactory { Uri = new Uri(user) };
        await using var connection = await factory.CreateConnectionAsync();
        // With confirms, a publish waits for the broker's answer, so a refused one fails here rather than later.
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        try { await operation(channel); }
        catch (Exception e) when (e is OperationInterruptedException or AlreadyClosedException or PublishException) { }
        return channel.CloseReason?.ReplyCode;
    }
}
