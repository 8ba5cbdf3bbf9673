using System.Text.Json;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Operations;

/// <summary>
/// A job's message that keeps failing for a reason an operator can fix: recording its start fails inside PostgreSQL (a
/// trigger), so the worker's poison path ends the job Failed and stores the message in Wolverine's durable dead letters.
/// </summary>
public sealed class when_a_poison_message_is_dead_lettered(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task it_is_listed_in_its_failure_group_and_a_replay_after_the_fix_delivers_it()
    {
        var job = await PoisonJobAsync("replay.poison@example.test", "injected poison for the replay");
        JsonElement letter;
        try
        {
            letter = await DeadLetterOfAsync(job);
            Assert.Equal(System.Email.Name, letter.GetProperty("adapter").GetString());
            Assert.Equal("workers", letter.GetProperty("store").GetString());
            Assert.Contains("DeliverJob", letter.GetProperty("messageType").GetString());
            Assert.Contains("injected poison for the replay", letter.GetProperty("exceptionMessage").GetString());

            var groups = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/groups?adapter={System.Email.Name}", SystemFixture.AdminKey, expect: 200);
            var group = groups.EnumerateArray().Single(g => g.GetProperty("failure").GetString()!.Contains("injected poison for the replay"));
            Assert.Equal(letter.GetProperty("exceptionType").GetString(), group.GetProperty("exceptionType").GetString());
            Assert.Equal(1, group.GetProperty("count").GetInt32());
            Assert.Contains(letter.GetProperty("id").GetGuid(), group.GetProperty("sampleIds").EnumerateArray().Select(i => i.GetGuid()));

            // A dry run while the cause is still there: it says what it would do and does nothing.
            var id = letter.GetProperty("id").GetGuid();
            var preview = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/replay", SystemFixture.AdminKey, new { ids = new[] { id }, dryRun = true }, expect: 200);
            Assert.Equal(1, preview.GetProperty("replayed").GetInt32());
            Assert.Equal([id], preview.GetProperty("sampleIds").EnumerateArray().Select(i => i.GetGuid()));
            Assert.Equal(JsonValueKind.Null, preview.GetProperty("operationId").ValueKind);
            await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{id}", SystemFixture.AdminKey, expect: 200);
            Assert.Equal(JobState.Failed, (await System.GetJobAsync(System.Tenant, job)).State);
        }
        finally
        {
            await RemoveTriggerAsync();
        }

        // The cause is fixed: the replay re-drives the job as a new attempt and the worker delivers it.
        var replayId = letter.GetProperty("id").GetGuid();
        var replayed = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/replay", SystemFixture.AdminKey, new { ids = new[] { replayId } }, expect: 200);
        Assert.Equal(1, replayed.GetProperty("replayed").GetInt32());
        Assert.Empty(replayed.GetProperty("skipped").EnumerateArray());
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, job)).State);
        Assert.Single(System.Smtp.To("replay.poison@example.test"));
        Assert.Contains("JobRetryRequested", await System.EventTypesAsync(System.Tenant, job));
        await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{replayId}", SystemFixture.AdminKey, expect: 404);

        // Who did it, and when, is in the operators' stream.
        var operation = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{replayed.GetProperty("operationId").GetGuid()}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("Replay", operation.GetProperty("kind").GetString());
        Assert.StartsWith("admin:", operation.GetProperty("by").GetString());
        Assert.True(operation.GetProperty("startedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Equal((1, "Done"), (operation.GetProperty("done").GetInt32(), operation.GetProperty("status").GetString()));
        var listed = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/operations?kind=Replay", SystemFixture.AdminKey, expect: 200);
        Assert.Contains(replayed.GetProperty("operationId").GetGuid(), listed.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task a_discard_by_filter_previews_then_deletes_the_dead_letters_and_leaves_the_job_failed()
    {
        var since = DateTimeOffset.UtcNow.AddSeconds(-5);
        var job = await PoisonJobAsync("discard.poison@example.test", "injected poison to discard");
        await RemoveTriggerAsync();
        var letter = await DeadLetterOfAsync(job);
        var filter = new { adapter = System.Email.Name, failure = letter.GetProperty("failure").GetString(), from = since };

        var preview = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/discard", SystemFixture.AdminKey, new { filter.adapter, filter.failure, filter.from, dryRun = true }, expect: 200);
        Assert.Equal(1, preview.GetProperty("matched").GetInt32());
        Assert.Equal([letter.GetProperty("id").GetGuid()], preview.GetProperty("sampleIds").EnumerateArray().Select(i => i.GetGuid()));
        await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{letter.GetProperty("id").GetGuid()}", SystemFixture.AdminKey, expect: 200);

        // By a filter, the discard runs as an operation over every match (202); it is followed at its address.
        var discarded = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/dead-letters/discard", SystemFixture.AdminKey, new { filter.adapter, filter.failure, filter.from }, expect: 202);
        Assert.Equal(1, discarded.GetProperty("matched").GetInt32());
        var operation = await Eventually.Until(
            () => System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{discarded.GetProperty("operationId").GetGuid()}", SystemFixture.AdminKey, expect: 200),
            o => o.GetProperty("status").GetString() == "Done", what: "the discard to finish");
        await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{letter.GetProperty("id").GetGuid()}", SystemFixture.AdminKey, expect: 404);
        Assert.Equal(JobState.Failed, (await System.GetJobAsync(System.Tenant, job)).State);
        Assert.Equal(("Discard", 1), (operation.GetProperty("kind").GetString(), operation.GetProperty("done").GetInt32()));
        Assert.Equal(filter.failure, operation.GetProperty("selection").GetProperty("failure").GetString());
    }

    [Theory]
    [InlineData("replay", """{}""", "ids")]
    [InlineData("discard", """{"ids":[],"dryRun":true}""", "ids")]
    [InlineData("replay", """{"adapter":"no-such-adapter"}""", "adapter")]
    [InlineData("discard", """{"exceptionType":"X","from":"2026-02-01T00:00:00Z","to":"2026-01-01T00:00:00Z"}""", "from")]
    public async Task a_selection_that_is_empty_or_wrong_is_refused_naming_the_field(string action, string body, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, $"/admin/dead-letters/{action}", SystemFixture.AdminKey, JsonDocument.Parse(body).RootElement);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    // Review 3: a provider's text may quote the recipient; the shape masks it, and the recipient's erasure deletes the row.
    [Fact]
    public async Task a_quoted_recipient_is_masked_in_its_shape_and_erased_with_the_job()
    {
        var job = await PoisonJobAsync("erase.poison@example.test", "injected poison 550 <erase.poison@example.test>: no such user");
        await RemoveTriggerAsync();
        var letter = await DeadLetterOfAsync(job);
        var failure = letter.GetProperty("failure").GetString()!;
        Assert.Contains("injected poison", failure);
        Assert.DoesNotContain("@", failure);

        await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, new { recipient = "erase.poison@example.test" }, expect: 200);
        await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{letter.GetProperty("id").GetGuid()}", SystemFixture.AdminKey, expect: 404);
        Assert.True((await System.GetJobAsync(System.Tenant, job)).Params.GetProperty("erased").GetBoolean());
    }

    // Review 2: a window with a non-UTC offset is the same instant, not a 500 from Npgsql. (A replay by filter alone is
    // started as an operation: 202.)
    [Theory]
    [InlineData("GET", "/admin/dead-letters?from=2026-11-30T08:00:00%2B01:00&to=2026-11-30T09:00:00%2B01:00", null, 200)]
    [InlineData("GET", "/admin/dead-letters/groups?from=2026-11-30T08:00:00%2B01:00&to=2026-11-30T09:00:00-05:00", null, 200)]
    [InlineData("POST", "/admin/dead-letters/replay", """{"from":"2026-11-30T08:00:00+01:00","to":"2026-11-30T09:00:00+01:00","dryRun":true}""", 200)]
    [InlineData("POST", "/admin/dead-letters/discard", """{"from":"2026-11-30T08:00:00+01:00","dryRun":true}""", 200)]
    [InlineData("POST", "/admin/dead-letters/replay", """{"messageType":"no-such-type","to":"2026-11-30T09:00:00+01:00"}""", 202)]
    public async Task a_window_with_an_offset_is_read_as_its_instant(string method, string url, string? body, int expected)
    {
        var (status, answer) = await System.SendForStatusAsync(new HttpMethod(method), url, SystemFixture.AdminKey, body is null ? null : (object)JsonDocument.Parse(body).RootElement);
        Assert.True(status == expected, $"{status}: {answer}");
        if (expected != 202) return;
        // Its batches read the window too: the operation ends without a failure.
        var operation = await Eventually.Until(
            () => System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations/{answer.GetProperty("operationId").GetGuid()}", SystemFixture.AdminKey, expect: 200),
            o => o.GetProperty("status").GetString() == "Done", what: "the replay to finish");
        Assert.False(operation.TryGetProperty("outcome", out var outcome) && outcome.ValueKind == JsonValueKind.String, operation.ToString());
    }

    [Fact]
    public async Task a_list_filter_naming_an_unknown_adapter_is_refused()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, "/admin/dead-letters?adapter=no-such-adapter", SystemFixture.AdminKey);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("adapter", out _));
    }

    /// <summary>A job whose start cannot be recorded (a trigger raising <paramref name="cause"/>) until <see cref="RemoveTriggerAsync"/>: it ends Failed as poison.</summary>
    private async Task<Guid> PoisonJobAsync(string to, string cause)
    {
        // Park the job first, so we know its id before the worker sees it.
        var parked = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, to) }, sendAt = DateTimeOffset.UtcNow.AddSeconds(2),
        });
        var job = parked.Jobs[0].Id;
        await Sql.ExecuteAsync($"""
            CREATE OR REPLACE FUNCTION ns.fail_job_start() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION '{cause}'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_job_start BEFORE INSERT ON ns.mt_events FOR EACH ROW
              WHEN (NEW.type = 'job_started' AND NEW.stream_id = '{job}') EXECUTE FUNCTION ns.fail_job_start();
            """);
        var failed = await System.WaitForTerminalAsync(System.Tenant, job, TimeSpan.FromSeconds(60));
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Contains("Poison message", failed.LastError);
        return job;
    }

    private static Task RemoveTriggerAsync() => Sql.ExecuteAsync("DROP TRIGGER IF EXISTS fail_job_start ON ns.mt_events; DROP FUNCTION IF EXISTS ns.fail_job_start();");

    /// <summary>The job's dead letter, once the worker has stored it (just after it failed the job).</summary>
    private async Task<JsonElement> DeadLetterOfAsync(Guid job)
    {
        var page = await Eventually.Until(
            () => System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters?adapter={System.Email.Name}&pageSize=200", SystemFixture.AdminKey, expect: 200),
            p => p.GetProperty("items").EnumerateArray().Any(i => i.GetProperty("jobId").ValueKind == JsonValueKind.String && i.GetProperty("jobId").GetGuid() == job),
            what: "the job's message in the dead letters");
        return page.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("jobId").ValueKind == JsonValueKind.String && i.GetProperty("jobId").GetGuid() == job);
    }
}
