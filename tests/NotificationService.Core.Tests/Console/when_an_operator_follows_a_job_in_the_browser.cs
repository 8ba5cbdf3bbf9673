using System.Text.RegularExpressions;
using Microsoft.Playwright;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Console;

/// <summary>The jobs pages in a real browser: find a job by its offer, read its timeline, see the offer's jobs.</summary>
public sealed class when_an_operator_follows_a_job_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_delivered_job_is_found_by_its_offer_and_its_timeline_shows_queued_started_finished()
    {
        var offer = await System.DeliverOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "console@example.test"), ClientApi.EmailTarget(System.Email.Name, "console2@example.test") },
            metadata = new { customer = "acme" },
        });
        var jobId = offer.Jobs[0].Id;
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, jobId)).State);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);

        await page.GotoAsync(browser.ConsoleUrl + "#/jobs");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Jobs", Level = 1 })).ToBeVisibleAsync();
        await page.GetByLabel("Offer", new() { Exact = true }).FillAsync(offer.Id.ToString());
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        // The filter is in the address, so the search is a bookmark: reloaded, it shows the same rows.
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"#/jobs\\?offerId={offer.Id}$"));
        await page.ReloadAsync();
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Jobs, newest first" }).Locator("tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("#jobs-count")).ToHaveTextAsync("2 jobs match");
        await Assertions.Expect(rows.Filter(new() { HasText = ConsoleBrowser.ShortId(jobId) })).ToContainTextAsync("Finished");
        await Assertions.Expect(page.GetByLabel("Offer", new() { Exact = true })).ToHaveValueAsync(offer.Id.ToString());
        await browser.ScreenshotAsync(page, "jobs-search");

        // The metadata filter finds the same jobs; another value finds none.
        await page.GotoAsync(browser.ConsoleUrl + "#/jobs?metadata.customer=acme");
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await Assertions.Expect(page.GetByLabel("Metadata key")).ToHaveValueAsync("customer");
        await page.GotoAsync(browser.ConsoleUrl + "#/jobs?metadata.customer=other");
        await Assertions.Expect(page.Locator("#jobs-count")).ToHaveTextAsync("0 jobs match");

        // The service filter is picked by name; the address and the API get its id.
        await page.GotoAsync(browser.ConsoleUrl + "#/jobs");
        await page.GetByLabel("Offer", new() { Exact = true }).FillAsync(offer.Id.ToString());
        await page.GetByLabel("Service", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = System.Tenant.Name });
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"service={System.Tenant.Id}"));
        await Assertions.Expect(page.Locator("#jobs-count")).ToHaveTextAsync("2 jobs match");
        await Assertions.Expect(page.GetByLabel("Service", new() { Exact = true })).ToHaveValueAsync(System.Tenant.Id.ToString());

        await page.GotoAsync(browser.ConsoleUrl + $"#/jobs?offerId={offer.Id}");
        await rows.GetByRole(AriaRole.Link, new() { Name = ConsoleBrowser.ShortId(jobId) }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Job {jobId}", Level = 1 })).ToBeVisibleAsync();
        var timeline = page.GetByRole(AriaRole.List, new() { Name = "Event stream" }).Locator("li");
        await Assertions.Expect(timeline).ToHaveCountAsync(3);
        await Assertions.Expect(timeline.Nth(0)).ToContainTextAsync("Queued");
        await Assertions.Expect(timeline.Nth(0)).ToContainTextAsync($"On adapter {System.Email.Name}");
        await Assertions.Expect(timeline.Nth(1)).ToContainTextAsync("Started");
        await Assertions.Expect(timeline.Nth(1)).ToContainTextAsync("Attempt 1 by worker");
        await Assertions.Expect(timeline.Nth(2)).ToContainTextAsync("Finished");
        await Assertions.Expect(timeline.Nth(2)).ToContainTextAsync("Delivered by attempt 1");
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Retry" }).CountAsync()); // only a failed job
        await browser.ScreenshotAsync(page, "jobs-detail");

        await page.GetByRole(AriaRole.Link, new() { Name = offer.Id.ToString() }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Offer {offer.Id}", Level = 1 })).ToBeVisibleAsync();
        var offerRows = page.GetByRole(AriaRole.Table, new() { Name = "The offer's jobs" }).Locator("tbody tr");
        await Assertions.Expect(offerRows).ToHaveCountAsync(2);
        foreach (var job in offer.Jobs)
            await Assertions.Expect(offerRows.Filter(new() { HasText = ConsoleBrowser.ShortId(job.Id) })).ToContainTextAsync("Finished");
        await browser.ScreenshotAsync(page, "jobs-offer");

        // The job and offer pages name their one service by reading that service, not the whole list of services.
        var lists = 0;
        page.Request += (_, r) => { if (r.Method == "GET" && new Uri(r.Url).AbsolutePath == "/admin/services") Interlocked.Increment(ref lists); };
        foreach (var (hash, heading) in new[] { ($"#/jobs/{jobId}", $"Job {jobId}"), ($"#/offers/{offer.Id}", $"Offer {offer.Id}") })
        {
            await page.GotoAsync(browser.ConsoleUrl + hash);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = System.Tenant.Name, Exact = true })).ToHaveAttributeAsync("href", $"#/services/{System.Tenant.Id}");
        }
        Assert.Equal(0, lists);
        // No script error, and no call the pages made failed but the session check before signing in.
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }

    [Fact]
    public async Task the_search_pages_on_by_cursor()
    {
        var idle = await System.CreateEmailAdapterAsync($"console-idle-{Guid.NewGuid():N}", 9); // no worker: the jobs stay Queued
        var offers = new List<Guid>();
        for (var i = 0; i < 27; i++)
            offers.Add((await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(idle.Name, $"p{i}@example.test") } })).Jobs[0].Id);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);

        await page.GotoAsync(browser.ConsoleUrl + $"#/jobs?adapter={idle.Name}&state=Queued");
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Jobs, newest first" }).Locator("tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(25);
        await Assertions.Expect(page.Locator("#jobs-count")).ToHaveTextAsync("27 jobs match");
        await Assertions.Expect(rows.First).ToContainTextAsync(ConsoleBrowser.ShortId(offers[^1]));
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(2);
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("&after="));
        await Assertions.Expect(rows.Nth(1)).ToContainTextAsync(ConsoleBrowser.ShortId(offers[0]));
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).CountAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "First page" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(25);
        // No script error, and no call the pages made failed but the session check before signing in.
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }
}
