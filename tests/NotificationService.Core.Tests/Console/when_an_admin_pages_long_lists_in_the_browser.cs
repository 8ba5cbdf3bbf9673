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
            string[] Shown(params int[] which) => which.Select(i => ids[i].ToString()[..8]).ToArray();
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
