using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NotificationService.Hosting;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Tests.Console;

/// <summary>The adapters pages in a real browser: the form generated from a type's config schema, edit, block.</summary>
public sealed class when_an_admin_manages_adapters_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task an_email_adapter_made_with_the_generated_form_holds_the_values_typed_and_never_shows_its_secret()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var name = $"console-{Guid.NewGuid():N}"[..20];
        var password = $"pw-{Guid.NewGuid():N}";

        await page.GotoAsync(browser.ConsoleUrl + "#/adapters/new");
        await page.GetByLabel("Type", new() { Exact = true }).SelectOptionAsync("email");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New email adapter" });
        // The fields come from the email type's config schema: required marks, an enum as a select, a write-only password.
        await form.GetByLabel("Name (required)").FillAsync(name);
        await form.GetByLabel("host (required)").FillAsync("smtp.example.test");
        await form.GetByLabel("port (required)").FillAsync("2525");
        await form.GetByLabel("security", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "none" });
        await form.GetByLabel("username", new() { Exact = true }).FillAsync("mailer");
        Assert.Equal("password", await form.GetByLabel("password", new() { Exact = true }).GetAttributeAsync("type"));
        await form.GetByLabel("password", new() { Exact = true }).FillAsync(password);
        await form.GetByLabel("from (required)").FillAsync("Alerts <alerts@example.test>");
        await form.GetByLabel("maxAttempts").FillAsync("7");
        Assert.Contains("\"subject\"", await form.GetByLabel("Params schema").InputValueAsync()); // the type's default params schema
        await form.GetByLabel(System.Tenant.Name, new() { Exact = true }).CheckAsync();
        await browser.ScreenshotAsync(page, "adapter-new");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create adapter" }).ClickAsync();

        var shown = page.GetByRole(AriaRole.Region, new() { Name = $"Worker key of {name}" });
        await Assertions.Expect(shown).ToContainTextAsync("it will not be shown again");
        Assert.StartsWith("nsa_", await shown.GetByRole(AriaRole.Textbox).InputValueAsync());

        var adapters = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/adapters", SystemFixture.AdminKey, expect: 200);
        var id = adapters.EnumerateArray().Single(a => a.GetProperty("name").GetString() == name).GetProperty("id").GetGuid();
        var (_, adapter) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{id}", SystemFixture.AdminKey);
        var config = adapter.GetProperty("config");
        Assert.Equal("smtp.example.test", config.GetProperty("host").GetString());
        Assert.Equal(2525, config.GetProperty("port").GetInt32());
        Assert.Equal("none", config.GetProperty("security").GetString());
        Assert.Equal("mailer", config.GetProperty("username").GetString());
        Assert.Equal("Alerts <alerts@example.test>", config.GetProperty("from").GetString());
        Assert.False(config.TryGetProperty("password", out _));
        Assert.Equal(new[] { "password" }, adapter.GetProperty("secretsSet").EnumerateArray().Select(s => s.GetString()).ToArray());
        Assert.DoesNotContain(password, adapter.ToString());
        Assert.Equal(7, adapter.GetProperty("policy").GetProperty("maxAttempts").GetInt32());
        Assert.Equal(new[] { System.Tenant.Id }, adapter.GetProperty("services").EnumerateArray().Select(s => s.GetGuid()).ToArray());
        Assert.Equal(password, await PasswordStoredAsync(id));

        // Its page: the secret field is empty ("leave empty to keep"), and a change of the host sends only the host.
        await page.GetByRole(AriaRole.Link, new() { Name = $"Open {name}" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Adapter {name}", Level = 1 })).ToBeVisibleAsync();
        var edit = page.GetByRole(AriaRole.Form, new() { Name = "Change the adapter" });
        Assert.Equal("", await edit.GetByLabel("password", new() { Exact = true }).InputValueAsync());
        await Assertions.Expect(edit.GetByText("A value is set: leave empty to keep it")).ToBeVisibleAsync();
        Assert.DoesNotContain(password, await page.ContentAsync());
        await edit.GetByLabel("host (required)").FillAsync("smtp2.example.test");
        await edit.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Saved.")).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "adapter");

        var history = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/adapters/{id}/history", SystemFixture.AdminKey, expect: 200);
        var reconfigured = history.EnumerateArray().Single(e => e.GetProperty("type").GetString() == "AdapterReconfigured").GetProperty("data");
        Assert.True(reconfigured.GetProperty("configChanged").GetBoolean());
        Assert.Equal(JsonValueKind.Null, reconfigured.GetProperty("policy").ValueKind); // only what changed was sent
        Assert.Equal(JsonValueKind.Null, reconfigured.GetProperty("allowedServices").ValueKind);
        Assert.Equal(JsonValueKind.False, reconfigured.GetProperty("paramsSchemaChanged").ValueKind);
        (_, adapter) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{id}", SystemFixture.AdminKey);
        Assert.Equal("smtp2.example.test", adapter.GetProperty("config").GetProperty("host").GetString());
        Assert.Equal(password, await PasswordStoredAsync(id)); // the empty secret field kept the stored one

        // Blocking in the page blocks it in the API.
        await page.GetByRole(AriaRole.Button, new() { Name = "Block adapter" }).ClickAsync();
        await Assertions.Expect(page.GetByText($"{name} is blocked.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Unblock adapter" })).ToBeVisibleAsync();
        (_, adapter) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{id}", SystemFixture.AdminKey);
        Assert.Equal("Blocked", adapter.GetProperty("status").GetString());
        Assert.Equal("blocked", adapter.GetProperty("live").GetProperty("status").GetString());

        await page.GetByRole(AriaRole.Link, new() { Name = "All adapters" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Adapters", Level = 1 })).ToBeVisibleAsync();
        // Every adapter on one page (other tests' adapters may sort before this one): the row is found by name.
        await page.GotoAsync(browser.ConsoleUrl + "#/adapters?pageSize=200");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = name });
        await Assertions.Expect(row).ToContainTextAsync("blocked");
        await browser.ScreenshotAsync(page, "adapters");
        Assert.DoesNotContain(browser.ErrorsOf(page), e => !e.Contains("401"));
    }

    [Fact]
    public async Task a_value_the_schema_refuses_is_shown_at_its_field_and_nothing_is_created()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        var name = $"console-{Guid.NewGuid():N}"[..20];

        await page.GotoAsync(browser.ConsoleUrl + "#/adapters/new?type=email");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New email adapter" });
        await form.GetByLabel("Name (required)").FillAsync(name);
        await form.GetByLabel("host (required)").FillAsync("smtp.example.test");
        await form.GetByLabel("port (required)").FillAsync("70000");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create adapter" }).ClickAsync();

        await Assertions.Expect(form.GetByText("config.port: is too big")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByText("config.from: is required")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("port (required)")).ToHaveAttributeAsync("aria-invalid", "true");
        await browser.ScreenshotAsync(page, "adapter-new-problem");
        var adapters = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/adapters", SystemFixture.AdminKey, expect: 200);
        Assert.DoesNotContain(adapters.EnumerateArray(), a => a.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task an_adapter_deleted_on_its_page_is_gone_from_the_api()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var adapter = await System.CreateEmailAdapterAsync($"console-{Guid.NewGuid():N}"[..20], System.Smtp.Port);

        await page.GotoAsync(browser.ConsoleUrl + $"#/adapters/{adapter.Id}");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Live workers" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete adapter" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Adapters", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = adapter.Name, Exact = true })).ToHaveCountAsync(0);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey)).Status);
    }

    /// <summary>The adapter's password as the workers will read it (decrypted from the stored config).</summary>
    private async Task<string?> PasswordStoredAsync(Guid id)
    {
        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var stored = await session.LoadAsync<Adapter>(id);
        var config = System.Core.Services.GetRequiredService<AdapterSecrets>().Unprotect(stored!.Config);
        return config.TryGetProperty("password", out var value) ? value.GetString() : null;
    }
}
