using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Playwright;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Npgsql;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The pages that poll (a job's page after Retry follows the job every second for up to 30 s; the operations page follows
/// a re-drive, replay or discard every second until it is done) when the polling cannot go on: the session is signed out
/// in another tab, or the job never moves because no worker takes its adapter's jobs. The page says so and stops polling.
/// </summary>
public sealed class when_a_page_that_polls_cannot_go_on_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>
    /// A job of its own adapter that failed for good (its worker got a 550), then that worker stopped: a retry of it waits
    /// Queued, with no worker to take it, for as long as the test likes.
    /// </summary>
    private async Task<(Guid JobId, RegisteredAdapter Adapter)> FailedJobWithoutWorkerAsync()
    {
        var adapter = await System.CreateEmailAdapterAsync($"poll-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey);
        try
        {
            System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "poll@example.test");
            var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(adapter.Name, "poll@example.test") } });
            Assert.Equal(JobState.Failed, (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State);
            return (offer.Jobs[0].Id, adapter);
        }
        finally { await System.StopWorkerAsync(worker); }
    }

    /// <summary>The GETs the page sends to <paramref name="path"/> (an /admin path), as they leave the browser.</summary>
    private static ConcurrentQueue<DateTimeOffset> Polls(IPage page, string path)
    {
        var polls = new ConcurrentQueue<DateTimeOffset>();
        page.Request += (_, r) => { if (r.Method == "GET" && new Uri(r.Url).AbsolutePath == path) polls.Enqueue(DateTimeOffset.UtcNow); };
        return polls;
    }

    /// <summary>No more polls for three of its one-second periods.</summary>
    private static async Task AssertStoppedAsync(ConcurrentQueue<DateTimeOffset> polls)
    {
        var seen = polls.Count;
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(seen, polls.Count);
    }

    /// <summary>Another tab of the same browser (same cookie) signs out with the console's button.</summary>
    private static async Task SignOutInAnotherTabAsync(ConsoleBrowser browser, IPage page)
    {
        var other = await page.Context.NewPageAsync();
        await other.GotoAsync(browser.ConsoleUrl);
        await Assertions.Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
        await other.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        // Signed out by hand: no "session has ended" there, it ended on purpose.
        await Assertions.Expect(other.GetByText("Your session has ended.")).ToHaveCountAsync(0);
        await other.CloseAsync();
    }

    private static async Task AssertSentToSignInSayingWhyAsync(IPage page)
    {
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Your session has ended." }))
            .ToContainTextAsync("signed out in another tab or window");
    }

    [Fact]
    public async Task a_retried_job_that_stays_queued_is_followed_for_30_s_and_then_the_page_says_it_stopped()
    {
        var (jobId, _) = await FailedJobWithoutWorkerAsync();
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        var polls = Polls(page, $"/admin/jobs/{jobId}");
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + $"#/jobs/{jobId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        var note = page.Locator(".retry-note");
        await Assertions.Expect(note).ToHaveTextAsync("Retry requested: the new attempt shows below as it runs.");
        await Assertions.Expect(page.Locator("dl.facts")).ToContainTextAsync("Queued");
        var clicked = DateTimeOffset.UtcNow;

        await Assertions.Expect(note).ToHaveTextAsync(
            "Retry requested, but the job is still Queued after 30 s, so the page stopped following it. Reload the page to see it now.",
            new() { Timeout = 45_000 });
        Assert.InRange((DateTimeOffset.UtcNow - clicked).TotalSeconds, 28, 40);
        Assert.InRange(polls.Count, 20, 40); // about one a second while it followed
        await AssertStoppedAsync(polls);
        await browser.ScreenshotAsync(page, "jobs-retry-stopped-following");

        var job = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{jobId}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(("Queued", 1), (job.GetProperty("job").GetProperty("state").GetString(), job.GetProperty("job").GetProperty("retries").GetInt32()));
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }

    [Fact]
    public async Task a_retried_job_being_followed_when_the_session_is_signed_out_elsewhere_sends_the_page_to_sign_in_saying_why()
    {
        var (jobId, _) = await FailedJobWithoutWorkerAsync();
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        var polls = Polls(page, $"/admin/jobs/{jobId}");
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + $"#/jobs/{jobId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Assertions.Expect(page.Locator(".retry-note")).ToHaveTextAsync("Retry requested: the new attempt shows below as it runs.");
        await Eventually.Until(() => polls.Count >= 3, what: "the page to follow the job");

        await SignOutInAnotherTabAsync(browser, page);
        await AssertSentToSignInSayingWhyAsync(page);
        await AssertStoppedAsync(polls);
        await browser.ScreenshotAsync(page, "signin-session-ended");

        // Signing in again greets with the overview, and the next sign-in page (signed out by hand) says nothing of an end.
        await page.GetByLabel("Admin key").FillAsync(SystemFixture.AdminKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Your session has ended.")).ToHaveCountAsync(0);

        var job = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{jobId}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("Queued", job.GetProperty("job").GetProperty("state").GetString());
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }

    [Fact]
    public async Task a_re_drive_being_followed_when_the_session_is_signed_out_elsewhere_sends_the_page_to_sign_in_and_the_re_drive_goes_on()
    {
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "redrive-poll@example.test");
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "redrive-poll@example.test") } });
        var jobId = offer.Jobs[0].Id;
        Assert.Equal(JobState.Failed, (await System.GetJobAsync(System.Tenant, jobId)).State);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/operations");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "Re-drive filter" });
        await form.GetByLabel("Adapter", new() { Exact = true }).FillAsync(System.Email.Name);
        await form.GetByLabel("State", new() { Exact = true }).SelectOptionAsync("Failed");
        await form.GetByRole(AriaRole.Button, new() { Name = "Dry run" }).ClickAsync();
        await Assertions.Expect(page.Locator("#redrive-count")).ToContainTextAsync("1 job would be re-driven");

        ConcurrentQueue<DateTimeOffset> polls = new();
        page.Request += (_, r) => { if (r.Method == "GET" && new Uri(r.Url).AbsolutePath.StartsWith("/admin/operations/")) polls.Enqueue(DateTimeOffset.UtcNow); };
        // The re-drive's batch appends to the job, whose row a long transaction holds (as a long write would): the
        // operation stays running, and the page keeps following it, until that transaction ends.
        await using (var writer = new NpgsqlConnection(TestEnvironment.Postgres))
        {
            await writer.OpenAsync();
            await using var transaction = await writer.BeginTransactionAsync();
            await using (var hold = new NpgsqlCommand($"SELECT 1 FROM ns.mt_doc_job WHERE id = '{jobId}' FOR UPDATE", writer, transaction)) await hold.ExecuteScalarAsync();
            await form.GetByRole(AriaRole.Button, new() { Name = "Run", Exact = true }).ClickAsync();
            await Assertions.Expect(page.Locator("#operation-progress")).ToHaveTextAsync("0 of 1 re-driven — running");
            await Eventually.Until(() => polls.Count >= 3, what: "the page to follow the operation");

            await SignOutInAnotherTabAsync(browser, page);
            await AssertSentToSignInSayingWhyAsync(page);
            await AssertStoppedAsync(polls);
            await transaction.RollbackAsync();
        }

        // The operation did not depend on the page: it ends on its own, and the job is delivered.
        var operations = await Eventually.Until(
            () => System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/operations?kind=Redrive&pageSize=1", SystemFixture.AdminKey, expect: 200),
            o => o.GetProperty("items")[0].GetProperty("status").GetString() == "Done", TimeSpan.FromSeconds(30), "the re-drive to end");
        Assert.Equal(1, operations.GetProperty("items")[0].GetProperty("done").GetInt32());
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId)).State);
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }
}
