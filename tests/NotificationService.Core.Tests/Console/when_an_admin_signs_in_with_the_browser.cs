using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>The console in a real browser: the sign-in form, the overview behind it, and signing out.</summary>
public sealed class when_an_admin_signs_in_with_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_form_signs_in_shows_the_overview_and_sign_out_returns_to_the_form()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();

        await page.GotoAsync(browser.ConsoleUrl);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        Assert.Equal("password", await page.GetByLabel("Admin key").GetAttributeAsync("type"));
        await browser.ScreenshotAsync(page, "signin");

        await browser.SignInAsync(page);
        await Assertions.Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Signed in as admin:")).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "overview");
        // The key is nowhere the page's script or a later visitor could read it.
        Assert.DoesNotContain(SystemFixture.AdminKey, page.Url);
        Assert.Equal(0, await page.GetByLabel("Admin key").CountAsync());
        Assert.Equal(0, await page.EvaluateAsync<int>("localStorage.length + sessionStorage.length"));
        var cookies = await page.Context.CookiesAsync();
        var cookie = Assert.Single(cookies, c => c.Name == "ns_console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(SystemFixture.AdminKey, cookie.Value);

        // The skip link (shown when focused) moves the focus to the page's content, where each navigation also puts it,
        // without changing the route.
        var skip = page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" });
        await skip.FocusAsync();
        await Assertions.Expect(skip).ToBeInViewportAsync();
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.Locator("main")).ToBeFocusedAsync();
        Assert.EndsWith("#/", page.Url);

        // Every page of the navigation loads.
        foreach (var name in new[] { "Services", "Adapters", "Jobs", "Operations", "Overview" })
        {
            await page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = name, Level = 1 })).ToBeVisibleAsync();
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        // Signed out on the server: the old cookie opens nothing any more.
        var replay = await System.ScenarioAsync(HttpMethod.Get, "/admin/services", key: null, also: s => s.WithRequestHeader("Cookie", $"ns_console={cookie.Value}"));
        Assert.Equal(401, replay.Context.Response.StatusCode);
        await page.GotoAsync(browser.ConsoleUrl + "#/services");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        Assert.DoesNotContain(browser.ErrorsOf(page), e => !e.Contains("401"));
    }

    [Fact]
    public async Task a_wrong_key_shows_the_problem_and_stays_signed_out()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await page.GotoAsync(browser.ConsoleUrl);
        await page.GetByLabel("Admin key").FillAsync("nsadmin_wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("A valid admin key is required.");
        Assert.Equal("", await page.GetByLabel("Admin key").InputValueAsync());
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "ns_console");
        await browser.ScreenshotAsync(page, "signin-wrong-key");
    }
}
