using System.Text.Json;
using Microsoft.Playwright;
using NotificationService.Storage.Jobs;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Console;

/// <summary>The operations page: a bulk re-drive counted by a dry run first, then run with its progress; the audit trail and projections.</summary>
public sealed class when_an_operator_redrives_jobs_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_dry_run_counts_the_failed_jobs_and_run_re_drives_them_with_progress()
    {
        var failed = new List<Guid>();
        for (var i = 0; i < 2; i++)
        {
            System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: $"redrive{i}@example.test");
            var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, $"redrive{i}@example.test") } });
            failed.Add(offer.Jobs[0].Id);
        }
        await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "fine@example.test") } });
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);

        await page.GotoAsync(browser.ConsoleUrl + "#/operations");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Operations", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Table, new() { Name = "Asynchronous projections and subscriptions" })).ToBeVisibleAsync();
        var form = page.GetByRole(AriaRole.Form, new() { Name = "Re-drive filter" });
        await form.GetByLabel("Adapter", new() { Exact = true }).FillAsync(System.Email.Name);
        await form.GetByLabel("State", new() { Exact = true }).SelectOptionAsync("Failed");
        var run = form.GetByRole(AriaRole.Button, new() { Name = "Run", Exact = true });
        await Assertions.Expect(run).ToBeDisabledAsync(); // no run before its dry run
        await form.GetByRole(AriaRole.Button, new() { Name = "Dry run" }).ClickAsync();
        await Assertions.Expect(page.Locator("#redrive-count")).ToContainTextAsync("2 jobs would be re-driven");
        // What the API answers to the same dry run, and nothing changed yet.
        var dry = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
            new { adapter = System.Email.Name, state = "Failed", dryRun = true }, expect: 200);
        Assert.Equal(2, dry.GetProperty("matched").GetInt32());
        await browser.ScreenshotAsync(page, "operations-dry-run");

        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await run.ClickAsync();
        await Assertions.Expect(page.Locator("#operation-progress")).ToHaveTextAsync("2 of 2 re-driven — done", new() { Timeout = 30_000 });
        Assert.Equal(2, await page.Locator("#redrive-result progress").EvaluateAsync<double>("p => p.value"));
        var actions = page.GetByRole(AriaRole.Table, new() { Name = "Latest operator actions, newest first" }).Locator("tbody tr");
        await Assertions.Expect(actions.First).ToContainTextAsync("Redrive");
        await Assertions.Expect(actions.First).ToContainTextAsync("2 of 2");
        await browser.ScreenshotAsync(page, "operations-redriven");

        foreach (var id in failed)
        {
            var job = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{id}", SystemFixture.AdminKey, expect: 200);
            Assert.Equal(1, job.GetProperty("job").GetProperty("retries").GetInt32());
        }
        // No script error, and no call the pages made failed but the session check before signing in.
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }

    [Fact]
    public async Task the_operator_actions_page_on_by_cursor()
    {
        // Enough recorded actions for a second page (20 a page): re-drives whose window matches nothing.
        for (var i = 0; i < 21; i++)
            await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
                new { state = "Failed", from = "2000-01-01T00:00:00Z", to = "2000-01-02T00:00:00Z", dryRun = false }, expect: 202);
        // The API's first two pages by cursor (actions are not reset between tests: the total is whatever it is now).
        var first = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/operations?pageSize=20", SystemFixture.AdminKey, expect: 200);
        var second = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/operations?pageSize=20&after={Uri.EscapeDataString(first.GetProperty("next").GetString()!)}", SystemFixture.AdminKey, expect: 200);
        var pages = (first.GetProperty("total").GetInt64() + 19) / 20;
        // An action's start to the millisecond, as the page's <time datetime> holds it: tells the rows of two pages apart.
        static string[] Started(JsonElement p) => p.GetProperty("items").EnumerateArray()
            .Select(o => o.GetProperty("startedAt").GetDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'")).ToArray();
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/operations");
        var actions = page.GetByRole(AriaRole.Table, new() { Name = "Latest operator actions, newest first" }).Locator("tbody tr");
        var pager = page.GetByRole(AriaRole.Navigation, new() { Name = "Pages of operator actions" });
        var counter = pager.Locator("span.muted");
        Task<string[]> ShownAsync() => actions.Locator("td:nth-child(3) time").EvaluateAllAsync<string[]>("times => times.map(t => t.getAttribute('datetime'))");
        await Assertions.Expect(actions).ToHaveCountAsync(20);
        await Assertions.Expect(counter).ToHaveTextAsync($"Page 1 of {pages}");
        Assert.Equal(Started(first), await ShownAsync());
        Assert.Equal(0, await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).CountAsync());
        await pager.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(counter).ToHaveTextAsync($"Page 2 of {pages}");
        // The second page is the API's second page (by the first page's cursor), not the first again.
        Assert.Equal(Started(second), await ShownAsync());
        Assert.NotEqual(Started(first), Started(second));
        await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Assertions.Expect(counter).ToHaveTextAsync($"Page 1 of {pages}");
        Assert.Equal(Started(first), await ShownAsync());
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }
}
