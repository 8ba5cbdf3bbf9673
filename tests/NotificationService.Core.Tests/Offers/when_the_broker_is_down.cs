using Microsoft.Extensions.DependencyInjection;
using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Wolverine.Runtime;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_the_broker_is_down(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task an_accepted_offer_waits_in_the_outbox_and_is_delivered_after_the_broker_returns()
    {
        Guid jobId;
        await TestEnvironment.RabbitMqCtlAsync("stop_app");
        try
        {
            var offer = await System.CreateOfferAsync(System.Tenant,
                new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "outage@example.test") } });
            jobId = Assert.Single(offer.Jobs).Id;

            // A fixed wait, as what it shows is something NOT happening: the outbox sends at once after the commit, so in
            // 2 s a delivery that got past the stopped broker would have started; none may have.
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(JobState.Queued, (await System.GetJobAsync(System.Tenant, jobId)).State);
            Assert.Empty(System.Smtp.To("outage@example.test"));
        }
        finally
        {
            await TestEnvironment.RabbitMqCtlAsync("start_app");
        }

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(90));
        Assert.Equal(JobState.Finished, job.State);
        Assert.Single(System.Smtp.To("outage@example.test"));
    }

    /// <summary>
    /// The accept answers once its transaction has committed; the broker's publisher confirm and the outbox row's delete
    /// come after the response (SendWithoutWaiting). With a memory alarm RabbitMQ blocks every publisher: the offer is
    /// still answered at once, its delivery waits in the outbox unconfirmed, and once the alarm clears the job is delivered.
    /// One target goes through the adapter's sending agent, several through Wolverine's grouped send (SendWithoutWaiting).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task an_offer_is_answered_while_the_broker_blocks_publishers_and_delivered_once_it_accepts_again(int targets)
    {
        var destination = $"destination = '{Topology.QueueUri(System.Email.Queue)}'";
        var before = await OutboxAsync(destination); // rows of earlier tests' sends may still be there
        var addresses = Enumerable.Range(0, targets).Select(i => $"blocked-{targets}-{i}@example.test").ToList();
        List<Guid> jobIds;
        await using (await BlockPublishersAsync())
        {
            // Held until the alarm clears, were the response waiting for the broker's confirm.
            var offer = await System.CreateOfferAsync(System.Tenant,
                    new { targets = addresses.Select(to => ClientApi.EmailTarget(System.Email.Name, to)).ToArray() })
                .WaitAsync(TimeSpan.FromSeconds(10));
            jobIds = offer.Jobs.Select(j => j.Id).ToList();
            Assert.Equal(targets, jobIds.Count);

            // A fixed wait, as what it shows is something NOT happening: nothing gets past a blocking broker.
            await Task.Delay(TimeSpan.FromSeconds(2));
            foreach (var jobId in jobIds) Assert.Equal(JobState.Queued, (await System.GetJobAsync(System.Tenant, jobId)).State);
            Assert.Equal(before + targets, await OutboxAsync(destination));
        }

        foreach (var jobId in jobIds)
            Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(60))).State);
        Assert.All(addresses, to => Assert.Single(System.Smtp.To(to)));
        await Eventually.Until(() => OutboxAsync(destination), left => left == 0, TimeSpan.FromSeconds(10), "the adapter's outbox to empty");
    }

    /// <summary>
    /// Sends nobody waits for pile up while the broker blocks them: past <see cref="BackgroundSends.MaxInFlight"/> of them,
    /// or past <see cref="BackgroundSends.MaxMessagesInFlight"/> messages between them (offers of 100 targets reach that
    /// first; each waiting message is held in the core's memory), the next offer waits for its own send again, as every
    /// offer did before.
    /// </summary>
    [Theory]
    [InlineData(BackgroundSends.MaxInFlight, 1)]
    [InlineData(BackgroundSends.MaxMessagesInFlight / 100, 100)]
    public async Task past_the_sends_or_messages_in_flight_an_offer_waits_for_its_own_send_again(int offers, int targets)
    {
        Assert.True(offers <= BackgroundSends.MaxInFlight && offers * targets <= BackgroundSends.MaxMessagesInFlight);
        // An earlier test's send can end after its job is Finished (the outbox delete comes last): the bounds start empty.
        var background = System.Core.Services.GetRequiredService<BackgroundSends>();
        await Eventually.Until(() => background.InFlight == 0, TimeSpan.FromSeconds(30), "the earlier background sends to end");
        var addresses = Enumerable.Range(0, offers * targets + 1).Select(i => $"pile-{targets}-{i}@example.test").ToList();
        var jobIds = new List<Guid>();
        Task<OfferAccepted> held;
        await using (await BlockPublishersAsync())
        {
            foreach (var chunk in addresses.Take(offers * targets).Chunk(targets))
            {
                var offer = await System.CreateOfferAsync(System.Tenant,
                        new { targets = chunk.Select(to => ClientApi.EmailTarget(System.Email.Name, to)).ToArray() })
                    .WaitAsync(TimeSpan.FromSeconds(10));
                jobIds.AddRange(offer.Jobs.Select(j => j.Id));
            }
            held = System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, addresses[^1]) } });
            // A fixed wait: what it shows is the answer NOT coming while the broker blocks.
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.False(held.IsCompleted);
        }

        jobIds.Add((await held.WaitAsync(TimeSpan.FromSeconds(30))).Jobs[0].Id);
        foreach (var jobId in jobIds)
            Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(120))).State);
        Assert.All(addresses, to => Assert.Single(System.Smtp.To(to)));
    }

    /// <summary>
    /// A memory alarm (high watermark 0): RabbitMQ blocks every publishing connection until the watermark is set back,
    /// which disposing the result does.
    /// </summary>
    private static async Task<IAsyncDisposable> BlockPublishersAsync()
    {
        var watermark = (await TestEnvironment.RabbitMqCtlAsync("eval", "vm_memory_monitor:get_vm_memory_high_watermark().")).Trim();
        await TestEnvironment.RabbitMqCtlAsync("set_vm_memory_high_watermark", "0");
        return new Restore(() => TestEnvironment.RabbitMqCtlAsync("set_vm_memory_high_watermark", watermark));
    }

    private sealed class Restore(Func<Task> restore) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await restore();
    }

    /// <summary>
    /// A sender whose broker is down keeps 100 messages in memory and gives the rest of its outbox back to any node (owner
    /// 0), to be resumed by the durability agent once the broker is back: this outage accepts more than that, so both
    /// paths have to deliver. The agent resumes <see cref="CritterStack.RecoveryBatchSize"/> per poll, not Wolverine's 100
    /// (20 messages/s at its production poll of 5 s: after a long outage, minutes of accepted jobs waiting).
    /// </summary>
    [Fact]
    public async Task more_jobs_than_a_sender_keeps_in_memory_are_all_delivered_after_the_broker_returns()
    {
        var durability = System.Core.Services.GetRequiredService<IWolverineRuntime>().Options.Durability;
        Assert.Equal(CritterStack.RecoveryBatchSize, durability.RecoveryBatchSize);
        var destination = Topology.QueueUri(System.Email.Queue);
        var addresses = Enumerable.Range(0, 250).Select(i => $"backlog-{i}@example.test").ToList();
        var jobIds = new List<Guid>();
        await TestEnvironment.RabbitMqCtlAsync("stop_app");
        try
        {
            foreach (var chunk in addresses.Chunk(100))
            {
                var offer = await System.CreateOfferAsync(System.Tenant,
                    new { targets = chunk.Select(to => ClientApi.EmailTarget(System.Email.Name, to)).ToArray() });
                jobIds.AddRange(offer.Jobs.Select(j => j.Id));
            }
            // The sender gives up its claim on what it cannot keep only after failed sends: wait until it has.
            await Eventually.Until(() => OutboxAsync($"owner_id = 0 AND destination = '{destination}'"), released => released > 0,
                TimeSpan.FromSeconds(30), "outbox envelopes released to any node while the broker is down");
        }
        finally
        {
            await TestEnvironment.RabbitMqCtlAsync("start_app");
        }

        foreach (var jobId in jobIds)
            Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(90))).State);
        Assert.All(addresses, to => Assert.Single(System.Smtp.To(to)));
        // Each envelope leaves the outbox once the broker confirmed it, which may come just after its job finished.
        await Eventually.Until(() => OutboxAsync($"destination = '{destination}'"), left => left == 0, TimeSpan.FromSeconds(10),
            "the adapter's outbox to empty");
    }

    private static Task<long> OutboxAsync(string where) =>
        Sql.ScalarAsync<long>($"SELECT count(*) FROM wolverine.wolverine_outgoing_envelopes WHERE {where}");
}
