using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Operations;

public sealed class when_jobs_are_redriven(SystemFixture system) : IntegrationContext(system)
{
    private static readonly JsonElement Params = JsonDocument.Parse("""{"to":"redrive@example.test","subject":"Hello","text":"Hi"}""").RootElement;

    [Fact]
    public async Task a_thousand_failed_jobs_are_previewed_then_each_gets_a_new_attempt_in_its_stream()
    {
        // An adapter of its own with no worker: the re-driven jobs wait on its queue, where the test counts them.
        var adapter = await System.CreateEmailAdapterAsync($"redrive-{Guid.NewGuid():N}"[..16], System.Smtp.Port);
        try
        {
            var failedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
            var jobs = await SeedAsync(1000, adapter.Id, adapter.Name, (id, at) => new JobFailed(id, 1, "550 mailbox unavailable", at), failedAt);

            var preview = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
                new { adapter = adapter.Name, state = "Failed", dryRun = true }, expect: 200);
            Assert.Equal(1000, preview.GetProperty("matched").GetInt32());
            var sample = preview.GetProperty("sampleIds").EnumerateArray().Select(i => i.GetGuid()).ToList();
            Assert.Equal(10, sample.Count);
            Assert.All(sample, id => Assert.Contains(id, jobs));
            Assert.Equal(0, await RetriesAsync(jobs)); // the dry run changed nothing

            var started = await System.ScenarioAsync(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
                new { adapter = adapter.Name, state = "Failed", from = failedAt.AddMinutes(-1) }, expect: 202);
            var accepted = await SystemFixture.BodyOf(started);
            var operationId = accepted.GetProperty("operationId").GetGuid();
            Assert.Equal($"/admin/operations/{operationId}", started.Context.Response.Headers.Location.ToString());

            var done = await Eventually.Until(
                () => System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{operationId}", SystemFixture.AdminKey, expect: 200),
                o => o.GetProperty("status").GetString() == "Done", TimeSpan.FromSeconds(120), "the re-drive to finish");
            Assert.Equal((1000, 1000, 0), (done.GetProperty("total").GetInt32(), done.GetProperty("done").GetInt32(), done.GetProperty("failed").GetInt32()));
            Assert.Equal("Redrive", done.GetProperty("kind").GetString());
            Assert.StartsWith("admin:", done.GetProperty("by").GetString());

            // Each job: one new attempt in its own stream (exactly one), queued again, and its message on the adapter's queue.
            Assert.Equal(1000, await RetriesAsync(jobs));
            Assert.Equal(1000, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_job WHERE id IN ({string.Join(",", jobs.Select(j => $"'{j}'"))}) AND data->>'state' = 'Queued'"));
            await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue), depth => depth == 1000, TimeSpan.FromSeconds(60), "the re-driven jobs' messages");
        }
        finally
        {
            await Broker.PurgeAsync(adapter.Queue);
        }
    }

    [Fact]
    public async Task expired_jobs_are_redriven_without_their_expiry_and_delivered()
    {
        var expiredAt = DateTimeOffset.UtcNow.AddMinutes(-1);
        var jobs = await SeedAsync(3, System.Email.Id, System.Email.Name, (id, at) => new JobExpired(id, at), expiredAt, expireAt: expiredAt);

        var preview = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
            new { service = System.Tenant.Id, state = "Expired", dryRun = true }, expect: 200);
        Assert.Equal(3, preview.GetProperty("matched").GetInt32());

        var accepted = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
            new { service = System.Tenant.Id, state = "Expired" }, expect: 202);
        foreach (var job in jobs)
        {
            var ended = await System.WaitForStateAsync(System.Tenant, job, JobState.Finished, TimeSpan.FromSeconds(60));
            Assert.Null(ended.ExpireAt);
            Assert.Equal(1, ended.Retries);
        }
        Assert.Equal(3, System.Smtp.To("redrive@example.test").Count());
        var operation = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{accepted.GetProperty("operationId").GetGuid()}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal((3, "Done"), (operation.GetProperty("done").GetInt32(), operation.GetProperty("status").GetString()));
    }

    [Theory]
    [InlineData("""{"state":"Queued"}""", "state")]
    [InlineData("""{"adapter":"no-such-adapter"}""", "adapter")]
    [InlineData("""{"service":"6f1c1d3e-0000-4000-8000-000000000001"}""", "service")]
    [InlineData("""{"from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}""", "from")]
    public async Task a_filter_that_is_wrong_is_refused_naming_the_field(string body, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey, JsonDocument.Parse(body).RootElement);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    // Review 4: a batch that keeps failing ends the operation "failed: ..." instead of leaving it Running forever.
    [Fact]
    public async Task a_batch_that_cannot_be_written_ends_the_operation_failed()
    {
        var adapter = await System.CreateEmailAdapterAsync($"redrive-{Guid.NewGuid():N}"[..16], System.Smtp.Port);
        var jobs = await SeedAsync(1, adapter.Id, adapter.Name, (id, at) => new JobFailed(id, 1, "550 mailbox unavailable", at), DateTimeOffset.UtcNow.AddMinutes(-1));
        await Sql.ExecuteAsync($"""
            CREATE OR REPLACE FUNCTION ns.fail_job_retry() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected re-drive failure'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_job_retry BEFORE INSERT ON ns.mt_events FOR EACH ROW
              WHEN (NEW.type = 'job_retry_requested' AND NEW.stream_id = '{jobs[0]}') EXECUTE FUNCTION ns.fail_job_retry();
            """);
        try
        {
            var accepted = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey, new { adapter = adapter.Name }, expect: 202);
            var operation = await Eventually.Until(
                () => System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{accepted.GetProperty("operationId").GetGuid()}", SystemFixture.AdminKey, expect: 200),
                o => o.GetProperty("status").GetString() == "Done", TimeSpan.FromSeconds(60), "the re-drive to end");
            Assert.StartsWith("failed: ", operation.GetProperty("outcome").GetString());
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER IF EXISTS fail_job_retry ON ns.mt_events; DROP FUNCTION IF EXISTS ns.fail_job_retry();");
        }
    }

    // Review 2: a window with a non-UTC offset is the same instant, not a 500 from Npgsql.
    [Theory]
    [InlineData("""{"from":"2026-11-30T08:00:00+01:00","to":"2026-11-30T09:00:00+01:00","dryRun":true}""")]
    [InlineData("""{"from":"2026-11-30T08:00:00-05:00","dryRun":true}""")]
    public async Task a_window_with_an_offset_is_read_as_its_instant(string body)
    {
        var (status, answer) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey, JsonDocument.Parse(body).RootElement);
        Assert.True(status == 200, $"{status}: {answer}");
    }

    /// <summary>Ended jobs written straight into the event store (as the worker and the core would have), fast.</summary>
    private async Task<List<Guid>> SeedAsync(int count, Guid adapterId, string adapterName, Func<Guid, DateTimeOffset, object> end, DateTimeOffset endedAt, DateTimeOffset? expireAt = null)
    {
        var store = System.Core.Services.GetRequiredService<IDocumentStore>();
        await using var session = store.LightweightSession();
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            var id = Guid.NewGuid();
            ids.Add(id);
            session.Events.StartStream<Job>(id,
                new JobQueued(id, Guid.NewGuid(), System.Tenant.Id, adapterId, adapterName, Params, endedAt.AddMinutes(-5), expireAt), end(id, endedAt));
        }
        await session.SaveChangesAsync();
        return ids;
    }

    private static Task<long> RetriesAsync(IEnumerable<Guid> jobs) =>
        Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_events WHERE type = 'job_retry_requested' AND stream_id IN ({string.Join(",", jobs.Select(j => $"'{j}'"))})");
}
