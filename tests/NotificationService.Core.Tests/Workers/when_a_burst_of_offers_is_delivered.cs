using System.Text.RegularExpressions;
using NotificationService.Contracts;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// Each job's DeliverJob reaches the worker once: the core's outbox (its delete after the broker's confirm, the durability
/// agent's recovery), the broker's redelivery of unacknowledged messages and the core's reconciler send nothing twice
/// after a burst. (bench/README.md, "Reads of finished jobs after a burst": the reads the profile's idle window showed
/// were messages an earlier bench run had left in a queue of the same name.)
/// </summary>
public sealed partial class when_a_burst_of_offers_is_delivered(SystemFixture system) : IntegrationContext(system)
{
    private const int Offers = 240;

    [Fact]
    public async Task every_job_is_taken_from_the_queue_once_and_nothing_follows_once_they_are_finished()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var adapter = await System.CreateAdapterAsync($"burst-{Guid.NewGuid():N}"[..20], "webhook",
            new { url = receiver.BaseUrl, secret = "burst-test-secret-1234", allowPrivateNetwork = true });
        // A worker process, as the bench runs it: its log has one line per DeliverJob it handled, skipped ones included.
        await using var worker = await WorkerProcess.StartAsync("NotificationService.Adapters.Webhook", adapter.ApiKey, parallelism: 8);

        // Eight clients at once, as the bench's warm-up: the core's commits and outbox sends overlap.
        using var clients = new SemaphoreSlim(8);
        var jobs = await Task.WhenAll(Enumerable.Range(0, Offers).Select(async i =>
        {
            await clients.WaitAsync();
            try { return (await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { i } } } } })).Jobs.Single().Id; }
            finally { clients.Release(); }
        }));

        await Eventually.Until(() => FinishedAsync(jobs), finished => finished == Offers, TimeSpan.FromSeconds(120), "every job of the burst to finish");
        // Past the outbox's recovery (the durability agent polls every few seconds), the reconciler's first round
        // (Jobs:ReconcileSeconds, 30 s by default: it acts only on jobs Queued or Started well past a bound, so it has
        // nothing to do here either way) and the broker's redelivery of anything unacknowledged.
        await Task.Delay(TimeSpan.FromSeconds(8));

        var handled = Handled().Matches(worker.Output).Select(m => (Job: Guid.Parse(m.Groups["job"].Value), Outcome: m.Groups["outcome"].Value)).ToList();
        Assert.Equal(Offers, handled.Count);
        Assert.All(handled, h => Assert.Equal("finished", h.Outcome));
        Assert.Equal(jobs.Order(), handled.Select(h => h.Job).Order());
        Assert.Equal(Offers, receiver.Requests.Count);
        Assert.Equal(0u, await Broker.QueueDepthAsync(Topology.QueueFor(adapter.Name)));
        // The core's outbox holds nothing for the queue any more: no envelope is left to be recovered and sent again.
        Assert.Equal(0L, await Sql.ScalarAsync<long>(
            $"SELECT count(*) FROM wolverine.wolverine_outgoing_envelopes WHERE destination LIKE '%{Topology.QueueFor(adapter.Name)}%'"));
    }

    private static Task<long> FinishedAsync(Guid[] jobs) => Sql.ScalarAsync<long>(
        $"SELECT count(*) FROM ns.mt_doc_job WHERE data->>'state' = 'Finished' AND id IN ({string.Join(", ", jobs.Select(j => $"'{j}'"))})");

    /// <summary>DeliverJobHandler's line per handled message: "Job {id} on {adapter}, attempt {n}: {outcome} ({ms} ms)".</summary>
    [GeneratedRegex(@"Job (?<job>[0-9a-f-]{36}) on [^,]+, attempt \d+: (?<outcome>\w+) \(")]
    private static partial Regex Handled();
}
