using Microsoft.Playwright;
using NotificationService.Storage.Jobs;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Console;

/// <summary>A job that failed for good is retried from its page; the page and the API show the new attempt.</summary>
public sealed class when_an_operator_retries_a_failed_job_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task retry_on_the_job_page_runs_a_new_attempt_that_the_timeline_and_the_api_show()
    {
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "again@example.test");
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "again@example.test") } });
        var jobId = offer.Jobs[0].Id;
        Assert.Equal(JobState.Failed, (await System.GetJobAsync(System.Tenant, jobId)).State);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);

        await page.GotoAsync(browser.ConsoleUrl + $"#/jobs/{jobId}");
        var timeline = page.GetByRole(AriaRole.List, new() { Name = "Event stream" }).Locator("li");
        await Assertions.Expect(timeline).ToHaveCountAsync(3);
        await Assertions.Expect(timeline.Nth(2)).ToContainTextAsync("Failed");
        await Assertions.Expect(timeline.Nth(2)).ToContainTextAsync("no such mailbox"); // the provider's answer, for operators
        await browser.ScreenshotAsync(page, "jobs-failed");

        string? asked = null;
        page.Dialog += async (_, dialog) => { asked = dialog.Message; await dialog.AcceptAsync(); };
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        // The page follows the new attempt until it ends: retry requested, started again, delivered.
        await Assertions.Expect(timeline).ToHaveCountAsync(6, new() { Timeout = 30_000 });
        await Assertions.Expect(timeline.Nth(3)).ToContainTextAsync("Retry requested");
        await Assertions.Expect(timeline.Nth(4)).ToContainTextAsync("Attempt 2 by worker");
        await Assertions.Expect(timeline.Nth(5)).ToContainTextAsync("Delivered by attempt 2");
        await Assertions.Expect(page.Locator("dl.facts")).ToContainTextAsync("Finished");
        Assert.Equal("Retry this job as a new attempt?", asked);
        await browser.ScreenshotAsync(page, "jobs-retried");

        var job = await System.GetJobAsync(System.Tenant, jobId);
        Assert.Equal((JobState.Finished, 2, 1), (job.State, job.Attempts, job.Retries));
        Assert.Single(System.Smtp.To("again@example.test"));
        // No script error, and no call the pages made failed but the session check before signing in.
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }
}
