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
        // '!' and a number that falls with time: sorts before every other service, so it is on the list's first page.
        var name = $"!{long.MaxValue - DateTime.UtcNow.Ticks:D19} console-{Guid.NewGuid():N}"[..36];

        await page.GotoAsync(browser.ConsoleUrl + "#/services");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New service" });
        await form.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        await form.GetByRole(AriaRole.Button, new() { Name = "Create service" }).ClickAsync();

        var shown = page.GetByRole(AriaRole.Region, new() { Name = $"API key of {name}" });
        await Assertions.Expect(shown).ToContainTextAsync("it will not be shown again");
        await Assertions.Expect(shown.GetByRole(AriaRole.Button, new() { Name = "Copy" })).ToBeVisibleAsync();
        var key = await shown.GetByRole(AriaRole.Textbox).InputValueAsync();
        Assert.StartsWith("nss_", key);
        await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        await shown.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        await Assertions.Expect(shown.GetByRole(AriaRole.Status)).ToHaveTextAsync("Copied to the clipboard.");
        Assert.Equal(key, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true })).ToBeVisibleAsync(); // in the list
        await browser.ScreenshotAsync(page, "services");

        // The key on the screen is the service's real key: the client API takes it.
        var services = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        var id = services.EnumerateArray().Single(s => s.GetProperty("name").GetString() == name).GetProperty("id").GetGuid();
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, "/v1/limits", key)).Status);

        // Once: coming back to the list shows no key any more.
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Region, new() { Name = $"API key of {name}" })).ToHaveCountAsync(0);
        Assert.DoesNotContain(key, await page.ContentAsync());

        await page.GetByRole(AriaRole.Link, new() { Name = name, Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Service {name}", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Form, new() { Name = "Limits" }).GetByLabel("Offers per second")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Block service" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Blocked: its keys get 403.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Service blocked by admin:" })).ToBeVisibleAsync();
        await browser.ScreenshotAsync(page, "service");

        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("Blocked", service.GetProperty("status").GetString());
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Get, "/v1/limits", key)).Status);
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

    [Fact]
    public async Task a_key_issued_on_the_page_is_shown_once_and_works_and_a_revoked_one_and_a_rename_reach_the_api()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var tenant = await System.CreateTenantAsync($"console-{Guid.NewGuid():N}"[..20]);

        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{tenant.Id}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Issue a new key" }).ClickAsync();
        var shown = page.GetByRole(AriaRole.Region, new() { Name = $"New API key of {tenant.Name}" });
        await Assertions.Expect(shown).ToContainTextAsync("it will not be shown again");
        var key = await shown.GetByRole(AriaRole.Textbox).InputValueAsync();
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, "/v1/limits", key)).Status);

        var oldKey = page.GetByRole(AriaRole.Row).Filter(new() { HasText = tenant.ApiKey[..8] });
        // Each key's button names its key, so a screen reader's list of buttons tells them apart.
        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke key {tenant.ApiKey[..8]}" }).ClickAsync();
        await Assertions.Expect(oldKey).ToContainTextAsync("revoked");
        Assert.Equal(401, (await System.SendForStatusAsync(HttpMethod.Get, "/v1/limits", tenant.ApiKey)).Status);

        var renamed = $"renamed-{Guid.NewGuid():N}"[..20];
        var rename = page.GetByRole(AriaRole.Form, new() { Name = "Rename" });
        await rename.GetByLabel("Name", new() { Exact = true }).FillAsync(renamed);
        await rename.GetByRole(AriaRole.Button, new() { Name = "Rename" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Service {renamed}", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Service key revoked by admin:" })).ToBeVisibleAsync();

        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(renamed, service.GetProperty("name").GetString());
        var keys = service.GetProperty("keys").EnumerateArray().ToList();
        Assert.Equal(2, keys.Count);
        Assert.Single(keys, k => k.GetProperty("revokedAt").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task an_invite_made_on_the_page_shows_its_code_once_and_revoking_it_there_stops_the_code()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var note = $"for {Guid.NewGuid():N}";

        // Every invite on one page: the row is found by its note, wherever other tests' invites put it.
        await page.GotoAsync(browser.ConsoleUrl + "#/services?pageSize=200");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "New invite" });
        await form.GetByLabel("Note", new() { Exact = true }).FillAsync(note);
        await form.GetByLabel("Expires in hours").FillAsync("5");
        await form.GetByRole(AriaRole.Button, new() { Name = "Create invite" }).ClickAsync();
        var shown = page.GetByRole(AriaRole.Region, new() { Name = "Invite code" });
        await Assertions.Expect(shown).ToContainTextAsync("it will not be shown again");
        var code = await shown.GetByRole(AriaRole.Textbox).InputValueAsync();
        Assert.StartsWith("nsi_", code);

        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = note });
        await Assertions.Expect(row).ToContainTextAsync("open");
        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke invite \"{note}\"" }).ClickAsync();
        await Assertions.Expect(row).ToContainTextAsync("revoked");
        await browser.ScreenshotAsync(page, "services-invites");

        var invites = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/invites", SystemFixture.AdminKey, expect: 200);
        var invite = invites.EnumerateArray().Single(i => i.GetProperty("note").GetString() == note);
        Assert.NotEqual(JsonValueKind.Null, invite.GetProperty("revokedAt").ValueKind);
        // The code the page showed is this invite's: registering with it is refused as revoked, not as unknown.
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", null, new { name = $"x-{Guid.NewGuid():N}"[..20], inviteCode = code });
        Assert.Equal(422, status);
        Assert.Contains("revoked", problem.GetProperty("errors").GetProperty("inviteCode")[0].GetString());
    }
}
