using System.Text.Json;
using Microsoft.Playwright;
using NotificationService.Core.Tests.Callbacks;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// A status callback whose receiver kept failing is disabled by the core (Callbacks:DisableAfterFailures, 5 in tests, with
/// retries every 0.5 s); the service's page shows it disabled with the reason and an Enable button that brings it back.
/// </summary>
public sealed class when_an_admin_enables_a_disabled_callback_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_callback_disabled_after_failed_deliveries_shows_disabled_and_enable_makes_it_deliver_again()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.Reply = _ => new PeerReply(500, "{}");
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["finished"]);
        // Two finished jobs, four attempts each (the first and three retries): more failures than the bound of 5.
        await System.DeliverOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "cb1@example.test"), ClientApi.EmailTarget(System.Email.Name, "cb2@example.test") },
        }, deliveries: 2);
        var disabled = await Eventually.Until(() => System.GetCallbackAsync(System.Tenant, callback.Id), c => !c.Enabled,
            TimeSpan.FromSeconds(30), "the callback to be disabled");
        Assert.Equal("5 consecutive failed attempts; the last: HTTP 500", disabled.DisabledReason);
        // Every attempt of both events has ended (given up, or skipped once disabled), so nothing left counts after Enable.
        await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id, "?limit=200"),
            p => p.Items.Count(d => d.Outcome is "gaveUp" or "skipped") == 2, TimeSpan.FromSeconds(30), "both events' last attempt");
        disabled = await System.GetCallbackAsync(System.Tenant, callback.Id);

        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var failedCalls = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) failedCalls.Add($"{r.Status} {r.Request.Method} {r.Url}"); };
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{System.Tenant.Id}");
        var section = page.GetByRole(AriaRole.Region, new() { Name = "Status callbacks" });
        var row = section.GetByRole(AriaRole.Row).Filter(new() { HasText = peer.BaseUrl });
        await Assertions.Expect(row).ToHaveCountAsync(1);
        await Assertions.Expect(row.Locator(".badge")).ToHaveTextAsync("disabled");
        await Assertions.Expect(row).ToContainTextAsync("5 consecutive failed attempts; the last: HTTP 500");
        var titles = await section.Locator("table thead th").AllInnerTextsAsync();
        var cells = await row.Locator("td").AllInnerTextsAsync();
        var shown = titles.Zip(cells).ToDictionary(p => p.First.Trim(), p => p.Second.Trim());
        Assert.Equal(disabled.ConsecutiveFailures.ToString(), shown["Failures in a row"]);
        Assert.True(disabled.ConsecutiveFailures >= 5, $"{disabled.ConsecutiveFailures} failures in a row");
        // Named after its callback for screen readers: "Enable" alone would repeat in every disabled row.
        var enable = row.GetByRole(AriaRole.Button, new() { Name = $"Enable the callback to {peer.BaseUrl}", Exact = true });
        await Assertions.Expect(enable).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "service-callback-disabled");

        peer.Reply = _ => new PeerReply(200, "{}"); // the receiver is fixed: what an operator checks before enabling
        await enable.ClickAsync();
        await Assertions.Expect(row.Locator(".badge")).ToHaveTextAsync("active");
        await Assertions.Expect(row.GetByRole(AriaRole.Button, new() { Name = "Enable" })).ToHaveCountAsync(0);
        await Assertions.Expect(row).Not.ToContainTextAsync("consecutive failed attempts");
        cells = await row.Locator("td").AllInnerTextsAsync();
        Assert.Equal("0", titles.Zip(cells).Single(p => p.First.Trim() == "Failures in a row").Second.Trim());
        await browser.ScreenshotAsync(page, "service-callback-enabled");

        var enabled = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{System.Tenant.Id}/callbacks", SystemFixture.AdminKey, expect: 200);
        var state = enabled.EnumerateArray().Single(c => c.GetProperty("id").GetGuid() == callback.Id);
        Assert.True(state.GetProperty("enabled").GetBoolean());
        Assert.Equal(0, state.GetProperty("consecutiveFailures").GetInt32());
        Assert.Equal(JsonValueKind.Null, state.GetProperty("disabledReason").ValueKind);
        // Enabled for real: the next finished job is delivered to the receiver.
        var before = peer.Requests.Count;
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "cb3@example.test") } });
        var received = await peer.WaitForCallbacksAsync(callback.Secret, r => r.Skip(before).Any(c => c.JobId == offer.Jobs[0].Id), "the callback after Enable");
        Assert.True(received.Last(c => c.JobId == offer.Jobs[0].Id).SignatureValid);
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        Assert.All(failedCalls, call => Assert.StartsWith($"401 GET {browser.ConsoleUrl}session", call));
    }
}
