using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>A service's status callbacks on its page: created (the signing secret once), listed, refused at the field, deleted.</summary>
public sealed class when_an_admin_manages_a_services_callbacks_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_callback_created_on_the_page_is_the_services_and_deleting_it_there_removes_it()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var tenant = await System.CreateTenantAsync($"console-{Guid.NewGuid():N}"[..20]);
        var url = $"http://127.0.0.1:9/hooks/{Guid.NewGuid():N}";

        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{tenant.Id}");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New callback" });
        await form.GetByLabel("URL", new() { Exact = true }).FillAsync("ftp://example.test/hook");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create callback" }).ClickAsync();
        await Assertions.Expect(form.GetByText("url: Must be an absolute http or https URL.")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("URL", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");

        await form.GetByLabel("URL", new() { Exact = true }).FillAsync(url);
        await form.GetByLabel("finished", new() { Exact = true }).CheckAsync();
        await form.GetByLabel("failed", new() { Exact = true }).CheckAsync();
        await form.GetByRole(AriaRole.Button, new() { Name = "Create callback" }).ClickAsync();
        var shown = page.GetByRole(AriaRole.Region, new() { Name = $"Signing secret of the callback to {url}" });
        await Assertions.Expect(shown).ToContainTextAsync("it will not be shown again");
        await Assertions.Expect(shown).ToContainTextAsync("stored encrypted, to sign each delivery"); // not "only its hash", as for a key
        Assert.StartsWith("nscb_", await shown.GetByRole(AriaRole.Textbox).InputValueAsync());
        var row = page.GetByRole(AriaRole.Region, new() { Name = "Status callbacks" }).GetByRole(AriaRole.Row).Filter(new() { HasText = url });
        await Assertions.Expect(row).ToContainTextAsync("finished, failed");
        await Assertions.Expect(row).ToContainTextAsync("active");
        await browser.ScreenshotAsync(page, "service-callbacks");

        var callbacks = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/callbacks", SystemFixture.AdminKey, expect: 200);
        var callback = Assert.Single(callbacks.EnumerateArray());
        Assert.Equal(url, callback.GetProperty("url").GetString());
        Assert.Equal(["finished", "failed"], callback.GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray());
        // The service itself sees it: it is its own callback, not a console-side copy.
        var own = await System.SendAsync<JsonElement>(HttpMethod.Get, "/v1/callbacks", tenant.ApiKey, expect: 200);
        Assert.Equal(callback.GetProperty("id").GetGuid(), Assert.Single(own.EnumerateArray()).GetProperty("id").GetGuid());

        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        callbacks = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/callbacks", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(0, callbacks.GetArrayLength());
    }
}
