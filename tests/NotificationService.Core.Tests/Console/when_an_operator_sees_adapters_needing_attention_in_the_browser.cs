using System.Text.Json;
using Microsoft.Playwright;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The live status badges (README "Live worker status"; AdapterLiveStatus.Decide) on the overview's "Adapters needing
/// attention" and the adapters list, produced for real: the tests' core counts a worker live for 3 s (Workers:LiveSeconds)
/// and samples queue depths every 0.5 s (Workers:SampleSeconds); "backlog growing" is a depth that rose at each of the last
/// 3 samples (Workers:BacklogSamples). The adapters' names start with "00" so that they sort first in any list.
/// </summary>
public sealed class when_an_operator_sees_adapters_needing_attention_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    private Task<RegisteredAdapter> NewAdapterAsync(string kind) => System.CreateEmailAdapterAsync($"00{kind}-{Guid.NewGuid():N}"[..20], System.Smtp.Port);

    private async Task<JsonElement> LiveAsync(Guid adapterId) =>
        (await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/adapters/{adapterId}", SystemFixture.AdminKey, expect: 200)).GetProperty("live");

    private Task OfferAsync(RegisteredAdapter adapter, int jobs = 1) => System.CreateOfferAsync(System.Tenant, new
    {
        targets = Enumerable.Range(0, jobs).Select(i => ClientApi.EmailTarget(adapter.Name, $"attention{i}@example.test")).ToArray(),
    });

    /// <summary>The cells of the row that links to <paramref name="name"/>, keyed by its table's column titles.</summary>
    private static async Task<Dictionary<string, string>> RowAsync(ILocator table, string name)
    {
        var row = table.Locator("tbody tr").Filter(new() { Has = table.Page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }) });
        await Assertions.Expect(row).ToHaveCountAsync(1);
        var titles = await table.Locator("thead th").AllInnerTextsAsync();
        var cells = await row.Locator("td").AllInnerTextsAsync();
        return titles.Zip(cells).ToDictionary(p => p.First.Trim(), p => p.Second.Trim());
    }

    private static ILocator AttentionTable(IPage page) => page.GetByRole(AriaRole.Table, new() { Name = "Adapters needing attention" });
    private static ILocator EmailAdapters(IPage page) => page.GetByRole(AriaRole.Region, new() { Name = "email" }).GetByRole(AriaRole.Table);

    [Fact]
    public async Task an_adapter_without_a_worker_and_with_jobs_waiting_shows_no_live_worker_on_the_overview_and_in_the_list()
    {
        var adapter = await NewAdapterAsync("nowork");
        await OfferAsync(adapter, jobs: 2);
        var live = await Eventually.Until(() => LiveAsync(adapter.Id),
            l => l.GetProperty("status").GetString() == "no live worker" && l.GetProperty("queueDepth") is { ValueKind: JsonValueKind.Number } d && d.GetInt64() == 2,
            TimeSpan.FromSeconds(20), "no live worker, with the two jobs sampled in its queue");
        Assert.Equal(0, live.GetProperty("workers").GetArrayLength());

        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        var attention = await RowAsync(AttentionTable(page), adapter.Name);
        Assert.Equal("no live worker", attention["Why"]);
        Assert.Equal(("email", "0", "2"), (attention["Type"], attention["Live workers"], attention["Queue depth"]));
        await Assertions.Expect(AttentionTable(page).Locator("tbody tr", new() { HasText = adapter.Name }).Locator(".badge.bad"))
            .ToHaveTextAsync("no live worker");
        // The shared email adapter has its worker and nothing waiting: not listed for want of a worker.
        await Assertions.Expect(AttentionTable(page).Locator("tbody tr", new() { HasText = "no live worker" })
            .Filter(new() { Has = page.GetByRole(AriaRole.Link, new() { Name = System.Email.Name, Exact = true }) })).ToHaveCountAsync(0);
        await browser.ScreenshotAsync(page, "overview-no-live-worker");

        // Every adapter on one page (other tests add adapters that sort before these): the rows are found by name.
        await page.GotoAsync(browser.ConsoleUrl + "#/adapters?pageSize=200");
        var listed = await RowAsync(EmailAdapters(page), adapter.Name);
        Assert.Equal(("no live worker", "2", "0"), (listed["Status"], listed["Queue depth"], listed["Live workers"]));
        Assert.NotEqual("none", listed["Oldest waiting job"]);
        var email = await RowAsync(EmailAdapters(page), System.Email.Name);
        Assert.Equal("ok", email["Status"]);
        await browser.ScreenshotAsync(page, "adapters-no-live-worker");
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }

    [Fact]
    public async Task a_queue_rising_at_each_sample_while_its_worker_is_stuck_shows_backlog_growing_on_the_overview_and_in_the_list()
    {
        var adapter = await NewAdapterAsync("backlog");
        var gate = new GatedChannel(); // the worker takes its first job and never finishes it
        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey, gate, new Dictionary<string, string?> { ["Adapter:Parallelism"] = "1" });
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        try
        {
            await Eventually.Until(() => LiveAsync(adapter.Id), l => l.GetProperty("workers").GetArrayLength() == 1, what: "the worker's first heartbeat");
            await browser.SignInAsync(page);
            using var stop = new CancellationTokenSource();
            // Two offers a sample (0.5 s): the ready count rises at every sample while this runs.
            var flood = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) { await OfferAsync(adapter); await Task.Delay(250); }
            });
            try
            {
                // Each page reads the status once; read again (reload) until the sampled rise shows there.
                var attention = await Eventually.Until(async () =>
                {
                    await page.GotoAsync(browser.ConsoleUrl + $"#/?r={Guid.NewGuid():N}");
                    await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Adapters needing attention" })).ToBeVisibleAsync();
                    var row = AttentionTable(page).Locator("tbody tr").Filter(new() { Has = page.GetByRole(AriaRole.Link, new() { Name = adapter.Name, Exact = true }) });
                    return await row.CountAsync() == 1 ? await row.Locator("td").Nth(2).InnerTextAsync() : "";
                }, why => why.Contains("backlog growing"), TimeSpan.FromSeconds(30), "the overview to show the growing backlog");
                Assert.Equal("backlog growing", attention.Trim());
                await browser.ScreenshotAsync(page, "overview-backlog-growing");

                var listed = await Eventually.Until(async () =>
                {
                    await page.GotoAsync(browser.ConsoleUrl + $"#/adapters?pageSize=200&r={Guid.NewGuid():N}");
                    return await RowAsync(EmailAdapters(page), adapter.Name);
                }, row => row["Status"] == "backlog growing", TimeSpan.FromSeconds(30), "the adapters list to show the growing backlog");
                Assert.Equal("1", listed["Live workers"]);
                Assert.True(long.Parse(listed["Queue depth"]) >= 3, $"queue depth {listed["Queue depth"]}");
                await browser.ScreenshotAsync(page, "adapters-backlog-growing");
            }
            finally { stop.Cancel(); await flood; }

            gate.Release(1000);
            var drained = await Eventually.Until(() => LiveAsync(adapter.Id),
                l => l.GetProperty("status").GetString() == "ok" && l.GetProperty("queueDepth").GetInt64() == 0, TimeSpan.FromSeconds(30), "ok once the queue drains");
            await page.GotoAsync(browser.ConsoleUrl + "#/adapters?pageSize=200");
            Assert.Equal("ok", (await RowAsync(EmailAdapters(page), adapter.Name))["Status"]);
            Assert.Equal("ok", drained.GetProperty("status").GetString());
            Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        }
        finally { await System.StopWorkerAsync(worker); }
    }
}
