using Microsoft.Playwright;
using NotificationService.Storage.Jobs;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Console;

/// <summary>The console's overview in a real browser: jobs per adapter and state, adapters needing attention, recent failures.</summary>
public sealed class when_an_admin_reads_the_overview(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>The cells of the row whose first cell is <paramref name="first"/>, keyed by the table's column titles.</summary>
    private static async Task<Dictionary<string, string>> RowAsync(ILocator table, string first)
    {
        var row = table.Locator("tbody tr").Filter(new() { Has = table.Page.GetByRole(AriaRole.Cell, new() { Name = first, Exact = true }) });
        await Assertions.Expect(row).ToHaveCountAsync(1); // waits for the page to have drawn the table
        var titles = await table.Locator("thead th").AllInnerTextsAsync();
        var cells = await row.Locator("td").AllInnerTextsAsync();
        return titles.Zip(cells).ToDictionary(p => p.First.Trim(), p => p.Second.Trim());
    }

    [Fact]
    public async Task a_delivered_and_a_failed_job_show_in_the_counts_and_the_failure_in_the_list()
    {
        var delivered = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "seen@example.test") } });
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "gone@example.test");
        var failed = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "gone@example.test") } });
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, delivered.Jobs[0].Id)).State);
        var failedJob = await System.GetJobAsync(System.Tenant, failed.Jobs[0].Id);
        Assert.Equal(JobState.Failed, failedJob.State);

        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);

        var counts = page.GetByRole(AriaRole.Table, new() { Name = "Jobs created in the last hour, per adapter and state" });
        var row = await RowAsync(counts, System.Email.Name);
        Assert.Equal(("1", "1", "2"), (row["Finished"], row["Failed"], row["Total"]));
        // The chart draws the same adapter (for the eye; the table is what screen readers get).
        await Assertions.Expect(page.Locator(".chart .bar-label", new() { HasText = System.Email.Name })).ToHaveCountAsync(1);

        var attention = page.GetByRole(AriaRole.Table, new() { Name = "Adapters needing attention" });
        Assert.Contains("failing: 1 failed in the last hour", (await RowAsync(attention, System.Email.Name))["Why"]);

        var failures = page.GetByRole(AriaRole.Table, new() { Name = "The newest failed jobs (up to 10)" });
        var failure = await RowAsync(failures, failed.Jobs[0].Id.ToString());
        Assert.Equal(System.Email.Name, failure["Adapter"]);
        Assert.Contains("550", failure["Error"]);
        Assert.Equal(failedJob.LastError, failure["Error"]);
        await browser.ScreenshotAsync(page, "overview-hour");

        await page.GetByRole(AriaRole.Button, new() { Name = "Last day" }).ClickAsync();
        var day = page.GetByRole(AriaRole.Table, new() { Name = "Jobs created in the last day, per adapter and state" });
        Assert.Equal("2", (await RowAsync(day, System.Email.Name))["Total"]);
        Assert.Equal("true", await page.GetByRole(AriaRole.Button, new() { Name = "Last day" }).GetAttributeAsync("aria-pressed"));

        await failures.GetByRole(AriaRole.Link, new() { Name = failed.Jobs[0].Id.ToString() }).ClickAsync();
        Assert.EndsWith($"#/jobs/{failed.Jobs[0].Id}", page.Url);
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.Contains("script error"));
    }

    [Fact]
    public async Task without_jobs_the_window_says_so()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        await Assertions.Expect(page.GetByText("No jobs were created in the last hour.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("No failed jobs.")).ToBeVisibleAsync();
    }
}
