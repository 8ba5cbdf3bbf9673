using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>The Templates page: a shared template created through the form, read on its page, deleted there.</summary>
public sealed class when_an_admin_manages_shared_templates_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_shared_template_created_through_the_form_is_seen_by_its_service_and_deleting_it_removes_it()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var key = $"shared-{Guid.NewGuid():N}"[..20];

        await page.GetByRole(AriaRole.Link, new() { Name = "Templates" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Shared templates", Level = 1 })).ToBeVisibleAsync();
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New shared template" });
        await form.GetByLabel("Key", new() { Exact = true }).FillAsync(key);
        await form.GetByLabel("Adapter type").SelectOptionAsync("email");
        await form.GetByLabel("Default locale").FillAsync("en");
        await form.GetByLabel("Variants").FillAsync("""{"en": {"to": "{{ email }}", "subject": "Hi {{ name }}", "text": "Hello"}}""");
        // No service chosen: the API's problem shows at the services.
        await form.GetByRole(AriaRole.Button, new() { Name = "Create template" }).ClickAsync();
        await Assertions.Expect(form.GetByText("services: At least one service.")).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "templates-problem");

        await form.GetByLabel(System.Tenant.Name, new() { Exact = true }).CheckAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Create template" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Template {key}", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = System.Tenant.Name, Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Hi {{ name }}")).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "template");

        var list = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/templates?pageSize=200", SystemFixture.AdminKey, expect: 200);
        var stored = Assert.Single(list.GetProperty("items").EnumerateArray(), t => t.GetProperty("key").GetString() == key);
        var id = stored.GetProperty("id").GetGuid();
        Assert.Equal("email", stored.GetProperty("type").GetString());
        Assert.Equal([System.Tenant.Id], stored.GetProperty("services").EnumerateArray().Select(s => s.GetGuid()).ToArray());
        Assert.Equal("Hi {{ name }}", stored.GetProperty("variants").GetProperty("en").GetProperty("subject").GetString());
        var seen = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/templates/{key}", System.Tenant.ApiKey, expect: 200);
        Assert.True(seen.GetProperty("shared").GetBoolean());

        await page.GetByRole(AriaRole.Link, new() { Name = "All templates" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = key })).ToContainTextAsync(System.Tenant.Name);
        await browser.ScreenshotAsync(page, "templates");
        await page.GetByRole(AriaRole.Link, new() { Name = key, Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete template" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Shared templates", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = key, Exact = true })).ToHaveCountAsync(0);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/templates/{id}", SystemFixture.AdminKey)).Status);
        Assert.DoesNotContain(browser.ErrorsOf(page), e => !e.Contains("401") && !e.Contains("422"));
    }
}
