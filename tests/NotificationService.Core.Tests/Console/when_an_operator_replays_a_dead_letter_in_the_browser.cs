using System.Text.Json;
using Microsoft.Playwright;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The operations page's dead letters: a job's poison message (its start could not be recorded: a trigger, as in
/// Operations/when_a_poison_message_is_dead_lettered.cs) shows in its failure group; the preview counts it, Replay re-drives it.
/// </summary>
public sealed class when_an_operator_replays_a_dead_letter_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_group_is_listed_previewed_and_replayed_after_the_fix()
    {
        var parked = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "console.poison@example.test") }, sendAt = DateTimeOffset.UtcNow.AddSeconds(2),
        });
        var job = parked.Jobs[0].Id;
        try
        {
            await Sql.ExecuteAsync($"""
                CREATE OR REPLACE FUNCTION ns.fail_job_start() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected poison for the console'; END $$ LANGUAGE plpgsql;
                CREATE TRIGGER fail_job_start BEFORE INSERT ON ns.mt_events FOR EACH ROW
                  WHEN (NEW.type = 'job_started' AND NEW.stream_id = '{job}') EXECUTE FUNCTION ns.fail_job_start();
                """);
            Assert.Equal(JobState.Failed, (await System.WaitForTerminalAsync(System.Tenant, job, TimeSpan.FromSeconds(60))).State);
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER IF EXISTS fail_job_start ON ns.mt_events; DROP FUNCTION IF EXISTS ns.fail_job_start();");
        }
        await Eventually.Until(
            () => System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/dead-letters/groups", SystemFixture.AdminKey, expect: 200),
            groups => groups.GetArrayLength() == 1, what: "the job's message in the dead letters");
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/operations");
        var group = page.GetByRole(AriaRole.Table, new() { Name = "Dead letters by failure" }).Locator("tbody tr");
        await Assertions.Expect(group).ToHaveCountAsync(1);
        await Assertions.Expect(group).ToContainTextAsync("injected poison for the console");
        await Assertions.Expect(group.Locator("td.num")).ToHaveTextAsync("1");
        await group.GetByRole(AriaRole.Button, new() { Name = "Preview replay" }).ClickAsync();
        var preview = page.Locator("[data-kind=replay-preview]");
        await Assertions.Expect(preview).ToContainTextAsync("1 dead letter matches; 1 would be replayed");
        // The letter's id whole: Wolverine's ids differ only in the middle, so no eight digits of it would tell letters apart.
        var letterId = (await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/dead-letters/groups", SystemFixture.AdminKey, expect: 200))[0]
            .GetProperty("sampleIds")[0].GetString();
        await Assertions.Expect(preview).ToContainTextAsync($"For example: {letterId}");
        await Assertions.Expect(preview).Not.ToContainTextAsync("null");
        await group.GetByRole(AriaRole.Button, new() { Name = "Show letters" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Table, new() { Name = "Dead letters of this failure" }).Locator("tbody tr")).ToContainTextAsync(ConsoleBrowser.ShortId(job));
        await browser.ScreenshotAsync(page, "operations-dead-letters");

        string? asked = null;
        page.Dialog += async (_, dialog) => { asked = dialog.Message; await dialog.AcceptAsync(); };
        await group.GetByRole(AriaRole.Button, new() { Name = "Replay", Exact = true }).ClickAsync();
        // By a filter the replay runs as an operation (202): the page follows it to the end, then reads the groups again.
        await Assertions.Expect(page.Locator("[data-kind=replay]")).ToContainTextAsync("1 dead letter matches; being replayed as an operation");
        await Assertions.Expect(page.Locator("[data-kind=replay] .operation-progress")).ToHaveTextAsync("1 of 1 replayed — done", new() { Timeout = 30_000 });
        Assert.Equal(1, await page.Locator("[data-kind=replay] progress").EvaluateAsync<double>("p => p.value"));
        Assert.Equal("Replay 1 dead letter(s)?", asked);
        await Assertions.Expect(page.GetByText("No dead letters.")).ToBeVisibleAsync();
        var actions = page.GetByRole(AriaRole.Table, new() { Name = "Latest operator actions, newest first" }).Locator("tbody tr");
        await Assertions.Expect(actions.First).ToContainTextAsync("Replay");

        // Through the API: no dead letter left, and the job delivered by its new attempt.
        Assert.Equal(0, (await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/dead-letters/groups", SystemFixture.AdminKey, expect: 200)).GetArrayLength());
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, job)).State);
        Assert.Single(System.Smtp.To("console.poison@example.test"));
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }

    [Fact]
    public async Task a_picked_letter_is_replayed_at_once_and_the_rest_of_the_group_is_discarded_as_an_operation()
    {
        var jobs = new List<Guid>();
        for (var i = 0; i < 2; i++)
        {
            var parked = await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, $"console.poison{i}@example.test") }, sendAt = DateTimeOffset.UtcNow.AddSeconds(2),
            });
            jobs.Add(parked.Jobs[0].Id);
        }
        try
        {
            await Sql.ExecuteAsync($"""
                CREATE OR REPLACE FUNCTION ns.fail_job_start() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected poison to pick and discard'; END $$ LANGUAGE plpgsql;
                CREATE TRIGGER fail_job_start BEFORE INSERT ON ns.mt_events FOR EACH ROW
                  WHEN (NEW.type = 'job_started' AND NEW.stream_id IN ('{jobs[0]}', '{jobs[1]}')) EXECUTE FUNCTION ns.fail_job_start();
                """);
            foreach (var job in jobs)
                Assert.Equal(JobState.Failed, (await System.WaitForTerminalAsync(System.Tenant, job, TimeSpan.FromSeconds(60))).State);
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER IF EXISTS fail_job_start ON ns.mt_events; DROP FUNCTION IF EXISTS ns.fail_job_start();");
        }
        await Eventually.Until(
            () => System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/dead-letters/groups", SystemFixture.AdminKey, expect: 200),
            groups => groups.EnumerateArray().Any(g => g.GetProperty("failure").GetString()!.Contains("to pick and discard") && g.GetProperty("count").GetInt32() == 2),
            what: "both jobs' messages in one group");
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/operations");
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        var group = page.GetByRole(AriaRole.Table, new() { Name = "Dead letters by failure" }).Locator("tbody tr").Filter(new() { HasText = "to pick and discard" });
        await Assertions.Expect(group.Locator("td.num")).ToHaveTextAsync("2");

        // Replay picked: by ids, answered at once (200).
        await group.GetByRole(AriaRole.Button, new() { Name = "Show letters" }).ClickAsync();
        var letters = page.GetByRole(AriaRole.Table, new() { Name = "Dead letters of this failure" }).Locator("tbody tr");
        await Assertions.Expect(letters).ToHaveCountAsync(2);
        var first = letters.Filter(new() { HasText = ConsoleBrowser.ShortId(jobs[0]) });
        await first.GetByRole(AriaRole.Checkbox).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Replay picked" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-kind=replay]")).ToContainTextAsync("1 dead letter matches; 1 replayed");
        await Assertions.Expect(group.Locator("td.num")).ToHaveTextAsync("1");
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobs[0])).State);

        // Discard by group: an operation over the filter, followed to its end.
        await group.GetByRole(AriaRole.Button, new() { Name = "Discard" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-kind=discard]")).ToContainTextAsync("1 dead letter matches; being discarded as an operation");
        await Assertions.Expect(page.Locator("[data-kind=discard] .operation-progress")).ToHaveTextAsync("1 of 1 discarded — done", new() { Timeout = 30_000 });
        await Assertions.Expect(group).ToHaveCountAsync(0);
        var actions = page.GetByRole(AriaRole.Table, new() { Name = "Latest operator actions, newest first" }).Locator("tbody tr");
        await Assertions.Expect(actions.First).ToContainTextAsync("Discard");
        await browser.ScreenshotAsync(page, "operations-discarded");

        // Through the API: no dead letter left; the discarded one's job stays Failed and sent nothing.
        Assert.DoesNotContain((await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/dead-letters/groups", SystemFixture.AdminKey, expect: 200)).EnumerateArray(),
            g => g.GetProperty("failure").GetString()!.Contains("to pick and discard"));
        var discarded = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{jobs[1]}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("Failed", discarded.GetProperty("job").GetProperty("state").GetString());
        Assert.Single(System.Smtp.To("console.poison0@example.test"));
        Assert.Empty(System.Smtp.To("console.poison1@example.test"));
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }
}
