using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>The services page in a real browser: what a person sees, and what the admin API then holds.</summary>
public sealed class when_an_admin_manages_services_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_service_created_through_the_form_shows_its_working_key_once_and_can_be_blocked_on_its_page()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var name = $"console-{Guid.NewGuid():N}"[..20];

        await page.GotoAsync(browser.ConsoleUrl + "#/services");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New service" });
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        await form.GetByRole(AriaRole.Button, new() { Name = "Create service" }).ClickAsync();

        var shown = page.GetByRole(AriaRole.Region, new() { Name = $"API key of {name}" });
        await Assertions.Expect(shown).ToContainTextAsync("it will not be shown again");
        await Assertions.Expect(shown.GetByRole(AriaRole.Button, new() { Name = "Copy" })).ToBeVisibleAsync();
        var key = await shown.GetByRole(AriaRole.Textbox).InputValueAsync();
        Assert.StartsWith("nss_", key);
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true })).ToBeVisibleAsync(); // in the list
        await browser.ScreenshotAsync(page, "services");

        // The key on the screen is the service's real key: the client API takes it.
        var services = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        var id = services.EnumerateArray().Single(s => s.GetProperty("name").GetString() == name).GetProperty("id").GetGuid();
        // Asked of the console's core: another core keeps its copy of a key's service for AccessCache.Lifetime after a block.
        using var client = new HttpClient { BaseAddress = browser.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/limits")).StatusCode);

        // Once: coming back to the list shows no key any more.
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Region, new() { Name = $"API key of {name}" })).ToHaveCountAsync(0);
        Assert.DoesNotContain(key, await page.ContentAsync());

        await page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Service {name}", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Table).Filter(new() { HasText = "Offers per second" })).ToBeVisibleAsync(); // limits
        await page.GetByRole(AriaRole.Button, new() { Name = "Block service" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Blocked: its keys get 403.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Service blocked by admin:" })).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "service");

        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("Blocked", service.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/v1/limits")).StatusCode);
        Assert.DoesNotContain(browser.ErrorsOf(page), e => !e.Contains("401"));
    }

    [Fact]
    public async Task a_taken_name_shows_the_problem_at_the_name_field_and_creates_nothing()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        var before = (await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200)).GetArrayLength();

        await page.GotoAsync(browser.ConsoleUrl + "#/services");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New service" });
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync(System.Tenant.Name);
        await form.GetByRole(AriaRole.Button, new() { Name = "Create service" }).ClickAsync();
        await Assertions.Expect(form.GetByRole(AriaRole.Alert)).ToContainTextAsync($"A service named '{System.Tenant.Name}' already exists.");

        await form.GetByLabel("Name", new() { Exact = true }).FillAsync(" ");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create service" }).ClickAsync();
        // A 422 names the field: its message sits under the input, which is marked invalid.
        await Assertions.Expect(form.GetByText("name: A name of 1 to 100 characters is required.")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("Name", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");
        await browser.ScreenshotAsync(page, "services-problem");

        Assert.Equal(before, (await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200)).GetArrayLength());
    }
}
