using System.Text.RegularExpressions;
using Microsoft.Playwright;
using NotificationService.Core.Tests.Operations;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The console's lists page by the API's cursor: Next page reads the next rows, Previous page goes back through the
/// cursors seen. A small page size comes from the hash (#/services?pageSize=2), so a few rows make several pages.
/// </summary>
public sealed class when_an_admin_pages_long_lists_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_services_list_pages_forward_and_back()
    {
        // '!' and a number that falls with time: this run's names sort before every other service, earlier runs' included.
        var prefix = $"!{long.MaxValue - DateTime.UtcNow.Ticks:D19}";
        var names = new[] { "a", "b", "c", "d", "e" }.Select(s => $"{prefix} {s}").ToArray();
        foreach (var name in names.Reverse()) await System.CreateTenantAsync(name);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/services?pageSize=2");

        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Services, by name" }).Locator("tbody tr");
        Regex[] Named(params int[] which) => which.Select(i => new Regex(Regex.Escape(names[i]))).ToArray();
        var pager = page.GetByRole(AriaRole.Navigation, new() { Name = "Pages of services" });
        await Assertions.Expect(rows).ToHaveTextAsync(Named(0, 1));
        Assert.Equal(0, await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).CountAsync());
        await pager.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveTextAsync(Named(2, 3));
        await Assertions.Expect(pager).ToContainTextAsync("Page 2");
        // The focus stays on the pager, so Enter pages on from the keyboard.
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(rows.First).ToContainTextAsync(names[4]);
        await Assertions.Expect(pager).ToContainTextAsync("Page 3");
        await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveTextAsync(Named(2, 3));
        await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveTextAsync(Named(0, 1));
        Assert.Equal(0, await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).CountAsync());
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }

    [Fact]
    public async Task a_page_that_cannot_be_read_keeps_the_last_one_and_its_pager_and_says_why()
    {
        var prefix = $"!{long.MaxValue - DateTime.UtcNow.Ticks:D19}";
        var names = new[] { "a", "b", "c" }.Select(s => $"{prefix} {s}").ToArray();
        foreach (var name in names.Reverse()) await System.CreateTenantAsync(name);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/services?pageSize=2");
        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Services, by name" }).Locator("tbody tr");
        var pager = page.GetByRole(AriaRole.Navigation, new() { Name = "Pages of services" });
        await Assertions.Expect(rows).ToHaveTextAsync([new Regex(Regex.Escape(names[0])), new Regex(Regex.Escape(names[1]))]);

        // The next page answers 500 once, slowly: while it loads the pager cannot be pressed again.
        var release = new TaskCompletionSource();
        await page.RouteAsync("**/admin/services?*after=*", async route =>
        {
            await release.Task;
            await route.FulfillAsync(new() { Status = 500, ContentType = "application/problem+json", Body = """{"title":"The list is down for a moment."}""" });
        }, new() { Times = 1 });
        var next = pager.GetByRole(AriaRole.Button, new() { Name = "Next page" });
        await next.ClickAsync();
        await Assertions.Expect(next).ToBeDisabledAsync();
        release.SetResult();

        // The first page and its pager stay, the problem is above them and has the focus.
        var alert = page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "The list is down for a moment." });
        await Assertions.Expect(alert).ToBeFocusedAsync();
        await Assertions.Expect(rows).ToHaveTextAsync([new Regex(Regex.Escape(names[0])), new Regex(Regex.Escape(names[1]))]);
        await Assertions.Expect(pager.Locator("span.muted")).ToHaveTextAsync("Page 1");
        await Assertions.Expect(next).ToBeEnabledAsync();
        // Pressed again (the API answers now), it goes to page 2, not page 3: the failed try left no cursor behind.
        await next.ClickAsync();
        await Assertions.Expect(pager.Locator("span.muted")).ToHaveTextAsync("Page 2");
        await Assertions.Expect(rows.First).ToContainTextAsync(names[2]);
        await Assertions.Expect(alert).ToHaveCountAsync(0);
        await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Assertions.Expect(pager.Locator("span.muted")).ToHaveTextAsync("Page 1");
    }

    [Fact]
    public async Task paging_after_the_session_ended_elsewhere_sends_to_sign_in_saying_why()
    {
        var prefix = $"!{long.MaxValue - DateTime.UtcNow.Ticks:D19}";
        foreach (var s in new[] { "c", "b", "a" }) await System.CreateTenantAsync($"{prefix} {s}");
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        await page.GotoAsync(browser.ConsoleUrl + "#/services?pageSize=2");
        var pager = page.GetByRole(AriaRole.Navigation, new() { Name = "Pages of services" });
        await Assertions.Expect(pager).ToBeVisibleAsync();

        // Another tab of the same browser (same cookie) signs out.
        var other = await page.Context.NewPageAsync();
        await other.GotoAsync(browser.ConsoleUrl);
        await other.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(other.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await other.CloseAsync();

        await pager.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Your session has ended." })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task a_failures_dead_letters_page_forward_and_back()
    {
        // Letters only: the group's failure masks ids and numbers, and the test finds its group by this text.
        var cause = $"console paging {new string(Guid.NewGuid().ToString("N").Select(c => char.IsAsciiDigit(c) ? (char)('g' + c - '0') : c).ToArray())}";
        var now = DateTimeOffset.UtcNow;
        var ids = await DeadLetterRows.InsertAsync(System.Email.Queue, Enumerable.Range(0, 5).Select(i => (Guid.NewGuid(), now.AddSeconds(-i))).ToList(), cause);
        try
        {
            var browser = await System.BrowserAsync();
            var page = await browser.NewPageAsync();
            await browser.SignInAsync(page);
            await page.GotoAsync(browser.ConsoleUrl + "#/operations?pageSize=2");
            var group = page.GetByRole(AriaRole.Table, new() { Name = "Dead letters by failure" }).Locator("tbody tr").Filter(new() { HasText = cause });
            await group.GetByRole(AriaRole.Button, new() { Name = "Show letters" }).ClickAsync();

            // Newest first: the rows were sent a second apart, ids[0] last.
            var letters = page.GetByRole(AriaRole.Table, new() { Name = "Dead letters of this failure" }).Locator("tbody tr td:nth-child(2)");
            var pager = page.GetByRole(AriaRole.Navigation, new() { Name = "Pages of dead letters" });
            string[] Shown(params int[] which) => which.Select(i => ids[i].ToString()).ToArray();
            await Assertions.Expect(letters).ToHaveTextAsync(Shown(0, 1));
            await Assertions.Expect(pager).ToContainTextAsync("Page 1 of 3");
            await pager.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
            await Assertions.Expect(letters).ToHaveTextAsync(Shown(2, 3));
            await pager.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
            await Assertions.Expect(letters).ToHaveTextAsync(Shown(4));
            Assert.Equal(0, await pager.GetByRole(AriaRole.Button, new() { Name = "Next page" }).CountAsync());
            await browser.ScreenshotAsync(page, "operations-dead-letters-paged");
            await pager.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
            await Assertions.Expect(letters).ToHaveTextAsync(Shown(2, 3));
            await Assertions.Expect(pager).ToContainTextAsync("Page 2 of 3");
            Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM {DeadLetterRows.WorkersTable} WHERE id IN ({string.Join(",", ids.Select(id => $"'{id}'"))})");
        }
    }
}
