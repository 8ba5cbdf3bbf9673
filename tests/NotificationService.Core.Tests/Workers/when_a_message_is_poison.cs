using System.Text;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using RabbitMQ.Client;

namespace NotificationService.Core.Tests.Workers;

public sealed class when_a_message_is_poison(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_job_that_keeps_failing_for_a_non_transient_reason_ends_failed_and_the_queue_keeps_flowing()
    {
        var deadLettersBefore = await Broker.QueueDepthAsync(DeadLetterQueue);
        // Park the next job first, so we know its id before the worker sees it.
        var parked = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "poison@example.test") }, sendAt = DateTimeOffset.UtcNow.AddSeconds(2),
        });
        var poisonJob = parked.Jobs[0].Id;
        // Recording its start fails inside PostgreSQL with a non-transient error, every time.
        await Sql.ExecuteAsync($"""
            CREATE OR REPLACE FUNCTION ns.fail_job_start() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected poison'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_job_start BEFORE INSERT ON ns.mt_events FOR EACH ROW
              WHEN (NEW.type = 'job_started' AND NEW.stream_id = '{poisonJob}') EXECUTE FUNCTION ns.fail_job_start();
            """);
        try
        {
            var job = await System.WaitForTerminalAsync(System.Tenant, poisonJob, TimeSpan.FromSeconds(60));
            Assert.Equal(JobState.Failed, job.State);
            Assert.Contains("Poison message", job.LastError);
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER fail_job_start ON ns.mt_events; DROP FUNCTION ns.fail_job_start();");
        }

        var next = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "after@example.test") } });
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, next.Jobs[0].Id)).State);
        Assert.Empty(System.Smtp.To("poison@example.test"));
        // Dead-lettered into Wolverine's durable storage, where the admin API finds it, not into RabbitMQ's queue.
        await Eventually.Until(() => System.SendAsync<System.Text.Json.JsonElement>(HttpMethod.Get, $"/admin/dead-letters?adapter={System.Email.Name}&pageSize=200", SystemFixture.AdminKey, expect: 200),
            page => page.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("jobId").ToString() == poisonJob.ToString()), what: "the message to be dead-lettered");
        Assert.Equal(deadLettersBefore, await Broker.QueueDepthAsync(DeadLetterQueue));
    }

    [Fact]
    public async Task a_message_that_is_not_a_job_is_dead_lettered_and_the_next_job_is_delivered()
    {
        var deadLettersBefore = await Broker.QueueDepthAsync(DeadLetterQueue);
        var factory = new ConnectionFactory { Uri = new Uri(TestEnvironment.RabbitMq) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            var properties = new BasicProperties { ContentType = "application/json", Type = "NotificationService.Contracts.DeliverJob", MessageId = Guid.NewGuid().ToString() };
            await channel.BasicPublishAsync("", System.Email.Queue, mandatory: true, properties, Encoding.UTF8.GetBytes("{ this is not json"));
        }

        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "flowing@example.test") } });
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State);
        await Eventually.Until(() => Broker.QueueDepthAsync(System.Email.Queue), depth => depth == 0, what: "the queue to drain");
        await Eventually.Until(() => Broker.QueueDepthAsync(DeadLetterQueue), depth => depth == deadLettersBefore + 1, what: "the garbage to be dead-lettered");
    }

    private const string DeadLetterQueue = "wolverine-dead-letter-queue";
}
