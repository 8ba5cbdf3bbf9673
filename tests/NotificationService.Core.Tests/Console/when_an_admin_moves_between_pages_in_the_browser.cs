using Microsoft.Playwright;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The router: a page still waiting for the API when the reader moves on must not write into the next page or retitle
/// it; the focus goes where the page put it; signing out either ends the session or says it did not.
/// </summary>
public sealed class when_an_admin_moves_between_pages_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_page_still_loading_does_not_write_into_the_next_one_nor_set_its_title()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The overview's counts answer late: by then the reader is on the services page.
        await page.RouteAsync("**/admin/jobs/counts*", async route =>
        {
            await Task.Delay(2000);
            await route.ContinueAsync();
            answered.TrySetResult();
        });
        await browser.SignInAsync(page);
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Services", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Services", Level = 1 })).ToBeVisibleAsync();
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The overview's other reads were quick; once the counts came, it would have appended its sections by now.
        await Task.Delay(1000);
        Assert.Equal(0, await page.GetByRole(AriaRole.Heading, new() { Name = "Recent failures" }).CountAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Heading, new() { Name = "Adapters needing attention" }).CountAsync());
        Assert.Equal(1, await page.GetByRole(AriaRole.Heading, new() { Level = 1 }).CountAsync());
        Assert.Equal("Services · Notification Service", await page.TitleAsync());

        // A detail page that titles itself after its reads: moving on first keeps the new page's title.
        var late = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync($"**/admin/services/{System.Tenant.Id}/history", async route =>
        {
            await Task.Delay(2000);
            await route.ContinueAsync();
            late.TrySetResult();
        });
        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{System.Tenant.Id}");
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Jobs", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Jobs", Level = 1 })).ToBeVisibleAsync();
        await late.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(500);
        Assert.Equal("Jobs · Notification Service", await page.TitleAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Heading, new() { Name = $"Service {System.Tenant.Name}" }).CountAsync());
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }

    [Fact]
    public async Task the_sign_in_form_keeps_the_focus_on_its_key_field()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await page.GotoAsync(browser.ConsoleUrl);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByLabel("Admin key")).ToBeFocusedAsync();
        // Typing at once signs in: no Tab needed.
        await page.Keyboard.TypeAsync(SystemFixture.AdminKey);
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("main")).ToBeFocusedAsync();
    }

    [Fact]
    public async Task a_failed_sign_out_says_so_and_the_sign_in_address_ends_a_live_session()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "ns_console").Value;
        async Task<int> WithCookieAsync() => (await System.ScenarioAsync(HttpMethod.Get, "/admin/services", key: null,
            also: s => s.WithRequestHeader("Cookie", $"ns_console={cookie}"))).Context.Response.StatusCode;

        // The server cannot sign out: the page says so and stays, as the session does.
        await page.RouteAsync("**/console/session", route => route.Request.Method == "DELETE"
            ? route.FulfillAsync(new() { Status = 503, ContentType = "application/problem+json", Body = """{"title":"Service unavailable"}""" })
            : route.ContinueAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Service unavailable");
        await Assertions.Expect(page.GetByText("Signing out failed; you may still be signed in.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" })).ToBeVisibleAsync();
        Assert.Equal(200, await WithCookieAsync());
        await page.UnrouteAllAsync();

        // Going to the sign-in address with a live session signs it out on the server, not only in the page.
        await page.GotoAsync(browser.ConsoleUrl + "#/signin");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await Eventually.Until(WithCookieAsync, status => status == 401, what: "the session ended on the server");
        await page.GotoAsync(browser.ConsoleUrl + "#/services");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
    }
}
