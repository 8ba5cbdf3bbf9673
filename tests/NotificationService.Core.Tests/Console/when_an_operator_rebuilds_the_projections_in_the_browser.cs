using System.Text.Json;
using Microsoft.Playwright;
using NotificationService.Core.Operations;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The projections' Rebuild on the operations page. Like the API's rebuild tests it runs in this test's turn of the one
/// system collection (no other test of the assembly runs beside it) and in this environment's own database: the rebuild
/// lock is per database, so other environments' rebuilds and tests are neither blocked nor seen.
/// </summary>
public sealed class when_an_operator_rebuilds_the_projections_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task rebuild_shows_another_cores_rebuild_then_runs_one_with_its_progress_and_repairs_the_documents()
    {
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "rebuild@example.test") } });
        var jobId = offer.Jobs[0].Id;
        // A damaged Job document: only a replay of its stream gives the original back.
        await Sql.ExecuteAsync($"UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{{attempts}}', '99') WHERE id = '{jobId}'");
        Assert.Equal(99, (await System.GetJobAsync(System.Tenant, jobId)).Attempts);

        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        string? asked = null;
        page.Dialog += async (_, dialog) => { asked = dialog.Message; await dialog.AcceptAsync(); };
        await browser.SignInAsync(page);
        var section = page.GetByRole(AriaRole.Region, new() { Name = "Projections" });
        var rebuild = section.GetByRole(AriaRole.Button, new() { Name = "Rebuild" });

        // Another core's rebuild (its lock held here): the page says so and offers no second one.
        await using (var other = new NpgsqlConnection(TestEnvironment.Postgres))
        {
            await other.OpenAsync();
            await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({RebuildLock.Key})", other)) await take.ExecuteNonQueryAsync();
            await page.GotoAsync(browser.ConsoleUrl + "#/operations");
            await Assertions.Expect(section).ToContainTextAsync("a rebuild is running");
            await Assertions.Expect(section).ToContainTextAsync("A rebuild is running.");
            await Assertions.Expect(rebuild).ToBeDisabledAsync();
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({RebuildLock.Key})", other);
            await release.ExecuteNonQueryAsync();
        }
        await page.ReloadAsync();
        await Assertions.Expect(rebuild).ToBeEnabledAsync();
        await Assertions.Expect(section).Not.ToContainTextAsync("rebuild is running");

        // Our rebuild, held at its start by a transaction that has the damaged job's row locked (as a long write would):
        // it cannot tear the Job documents down until that transaction ends, so its progress is on the page meanwhile.
        await using (var writer = new NpgsqlConnection(TestEnvironment.Postgres))
        {
            await writer.OpenAsync();
            await using var transaction = await writer.BeginTransactionAsync();
            await using (var hold = new NpgsqlCommand($"SELECT 1 FROM ns.mt_doc_job WHERE id = '{jobId}' FOR UPDATE", writer, transaction)) await hold.ExecuteScalarAsync();
            await rebuild.ClickAsync();
            Assert.StartsWith("Rebuild the projections from the event store?", asked);
            await Assertions.Expect(section).ToContainTextAsync("Rebuilding…");
            await Assertions.Expect(rebuild).ToBeDisabledAsync();
            // The page follows GET /admin/projections every second while the request runs.
            await Assertions.Expect(section).ToContainTextAsync("a rebuild is running", new() { Timeout = 10_000 });
            var during = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/projections", SystemFixture.AdminKey, expect: 200);
            Assert.True(during.GetProperty("rebuilding").GetBoolean());
            await browser.ScreenshotAsync(page, "operations-rebuilding");
            await transaction.RollbackAsync();
        }

        var done = section.Locator("p.result");
        await Assertions.Expect(done).ToContainTextAsync("Rebuilt Job, Adapter, ServiceAccount in", new() { Timeout = 60_000 });
        await Assertions.Expect(section).Not.ToContainTextAsync("rebuild is running");
        await Assertions.Expect(rebuild).ToBeEnabledAsync();
        await browser.ScreenshotAsync(page, "operations-rebuilt");
        // The audit trail, read again when it ended, names it.
        var actions = page.GetByRole(AriaRole.Table, new() { Name = "Latest operator actions, newest first" }).Locator("tbody tr");
        await Assertions.Expect(actions.First).ToContainTextAsync("Rebuild");
        await Assertions.Expect(actions.First).ToContainTextAsync("3 of 3");

        var after = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/projections", SystemFixture.AdminKey, expect: 200);
        Assert.False(after.GetProperty("rebuilding").GetBoolean());
        await Assertions.Expect(section).ToContainTextAsync($"Event store high-water mark {after.GetProperty("highWaterMark").GetInt64()}.");
        Assert.Equal(1, (await System.GetJobAsync(System.Tenant, jobId)).Attempts); // repaired by the replay
        var operations = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/operations?kind=Rebuild&pageSize=1", SystemFixture.AdminKey, expect: 200);
        var latest = operations.GetProperty("items")[0];
        Assert.Equal(("Done", 3), (latest.GetProperty("status").GetString(), latest.GetProperty("done").GetInt32()));
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }
}
