using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Operations;

/// <summary>
/// A replay or discard by filter walks every match, in batches of Operations:DeadLetterBatchSize (5 in the fixture), with
/// a keyset cursor on (send time, id): dead letters it cannot replay never make it take the same ones again.
/// </summary>
public sealed class when_dead_letters_are_acted_on_by_filter(SystemFixture system) : IntegrationContext(system)
{
    private static readonly JsonElement Params = JsonDocument.Parse("""{"to":"dl-walk@example.test","subject":"Hello","text":"Hi"}""").RootElement;

    // Review: the newest 1,000 matches were taken each time, so 1,000 unreplayable ones stalled a replay by filter for good.
    [Fact]
    public async Task a_replay_walks_past_more_than_a_batch_of_unreplayable_ones_to_the_replayable_ones()
    {
        // An adapter of its own with no worker: the re-driven jobs wait on its queue, where the test counts them.
        var adapter = await System.CreateEmailAdapterAsync($"dlwalk-{Guid.NewGuid():N}"[..16], System.Smtp.Port);
        var cause = $"walk {Guid.NewGuid()}";
        var rows = new List<Guid>();
        try
        {
            var now = DateTimeOffset.UtcNow;
            var failed = await SeedFailedAsync(3, adapter.Id, adapter.Name);
            // Twelve newest rows whose jobs are gone, all sent at one instant (the cursor's id breaks the tie across
            // batches), ahead of the three replayable ones.
            var gone = await DeadLetterRows.InsertAsync(adapter.Queue, Enumerable.Range(0, 12).Select(_ => (Guid.NewGuid(), now)).ToList(), cause);
            var replayable = await DeadLetterRows.InsertAsync(adapter.Queue, failed.Select((job, i) => (job, now.AddMinutes(-10).AddSeconds(-i))).ToList(), cause);
            rows.AddRange([.. gone, .. replayable]);

            var preview = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/replay", SystemFixture.AdminKey,
                new { adapter = adapter.Name, exceptionType = "NotificationService.Tests.InjectedPoison", dryRun = true }, expect: 200);
            Assert.Equal(15, preview.GetProperty("matched").GetInt32());
            Assert.Equal(3, preview.GetProperty("replayed").GetInt32());
            Assert.Equal(12, preview.GetProperty("skipped").GetArrayLength());

            var started = await System.ScenarioAsync(HttpMethod.Post, "/admin/dead-letters/replay", SystemFixture.AdminKey,
                new { adapter = adapter.Name, exceptionType = "NotificationService.Tests.InjectedPoison" }, expect: 202);
            var accepted = await SystemFixture.BodyOf(started);
            var operationId = accepted.GetProperty("operationId").GetGuid();
            Assert.Equal($"/admin/operations/{operationId}", started.Context.Response.Headers.Location.ToString());
            Assert.Equal(15, accepted.GetProperty("matched").GetInt32());

            var done = await DoneAsync(operationId);
            Assert.Equal(("Replay", 15, 3, 12), (done.GetProperty("kind").GetString(), done.GetProperty("total").GetInt32(),
                done.GetProperty("done").GetInt32(), done.GetProperty("failed").GetInt32()));

            // The replayable ones: each job a new attempt, its message on the queue, its row gone; the others kept.
            Assert.Equal(0, await DeadLetterRows.CountAsync(replayable));
            Assert.Equal(12, await DeadLetterRows.CountAsync(gone));
            Assert.Equal(3, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_events WHERE type = 'job_retry_requested' AND stream_id IN ({In(failed)})"));
            Assert.Equal(3, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_job WHERE id IN ({In(failed)}) AND data->>'state' = 'Queued'"));
            await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue), depth => depth == 3, TimeSpan.FromSeconds(30), "the replayed jobs' messages");

            // Again: nothing left to replay, and it still ends (the twelve are walked past, not taken again and again).
            var again = await SystemFixture.BodyOf(await System.ScenarioAsync(HttpMethod.Post, "/admin/dead-letters/replay", SystemFixture.AdminKey,
                new { adapter = adapter.Name, exceptionType = "NotificationService.Tests.InjectedPoison" }, expect: 202));
            var second = await DoneAsync(again.GetProperty("operationId").GetGuid());
            Assert.Equal((12, 0, 12), (second.GetProperty("total").GetInt32(), second.GetProperty("done").GetInt32(), second.GetProperty("failed").GetInt32()));
        }
        finally
        {
            await Broker.PurgeAsync(adapter.Queue);
            if (rows.Count > 0) await Sql.ExecuteAsync($"DELETE FROM {DeadLetterRows.WorkersTable} WHERE id IN ({In(rows)})");
        }
    }

    [Fact]
    public async Task a_discard_deletes_every_match_in_batches_and_nothing_else()
    {
        var cause = $"discard walk {Guid.NewGuid()}";
        var now = DateTimeOffset.UtcNow;
        var matching = await DeadLetterRows.InsertAsync(System.Email.Queue, Enumerable.Range(0, 12).Select(i => (Guid.NewGuid(), now.AddSeconds(-i % 4))).ToList(), cause);
        var other = await DeadLetterRows.InsertAsync(System.Email.Queue, [(Guid.NewGuid(), now)], $"other {Guid.NewGuid()}");
        try
        {
            var failure = (await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{matching[0]}", SystemFixture.AdminKey, expect: 200))
                .GetProperty("failure").GetString();
            var started = await SystemFixture.BodyOf(await System.ScenarioAsync(HttpMethod.Post, "/admin/dead-letters/discard", SystemFixture.AdminKey,
                new { adapter = System.Email.Name, failure }, expect: 202));
            Assert.Equal((12, 0), (started.GetProperty("matched").GetInt32(), started.GetProperty("discarded").GetInt32()));

            var done = await DoneAsync(started.GetProperty("operationId").GetGuid());
            Assert.Equal(("Discard", 12, 12, 0), (done.GetProperty("kind").GetString(), done.GetProperty("total").GetInt32(),
                done.GetProperty("done").GetInt32(), done.GetProperty("failed").GetInt32()));
            Assert.Equal(failure, done.GetProperty("selection").GetProperty("failure").GetString());
            Assert.Equal(0, await DeadLetterRows.CountAsync(matching));
            Assert.Equal(1, await DeadLetterRows.CountAsync(other));
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM {DeadLetterRows.WorkersTable} WHERE id IN ({In([.. matching, .. other])})");
        }
    }

    private Task<JsonElement> DoneAsync(Guid operationId) => Eventually.Until(
        () => System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{operationId}", SystemFixture.AdminKey, expect: 200),
        o => o.GetProperty("status").GetString() == "Done", TimeSpan.FromSeconds(60), "the operation to finish");

    private static string In(IEnumerable<Guid> ids) => string.Join(",", ids.Select(id => $"'{id}'"));

    private async Task<List<Guid>> SeedFailedAsync(int count, Guid adapterId, string adapterName)
    {
        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        var ids = new List<Guid>();
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        for (var i = 0; i < count; i++)
        {
            var id = Guid.NewGuid();
            ids.Add(id);
            session.Events.StartStream<Job>(id, new JobQueued(id, Guid.NewGuid(), System.Tenant.Id, adapterId, adapterName, Params, at.AddMinutes(-5), null),
                new JobStarted(id, 1, "seed", at.AddMinutes(-4)), new JobFailed(id, 1, "Poison message", at));
        }
        await session.SaveChangesAsync();
        return ids;
    }
}
