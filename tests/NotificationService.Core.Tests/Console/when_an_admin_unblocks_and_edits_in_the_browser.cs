using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>Unblocking a service and an adapter, and an adapter's policy and allowed services, changed through their pages.</summary>
public sealed class when_an_admin_unblocks_and_edits_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_blocked_service_unblocked_on_its_page_has_working_keys_again()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var tenant = await System.CreateTenantAsync($"console-{Guid.NewGuid():N}"[..20]);
        await System.ScenarioAsync(HttpMethod.Post, $"/admin/services/{tenant.Id}/block", SystemFixture.AdminKey, expect: 200);

        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{tenant.Id}");
        await Assertions.Expect(page.GetByText("Blocked: its keys get 403.")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Unblock service" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Active: its keys work.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Listitem).Filter(new() { HasText = "Service unblocked by admin:" })).ToBeVisibleAsync();

        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("Active", service.GetProperty("status").GetString());
        // Asked of the console's core, which served the unblock (another core may cache the block for AccessCache.Lifetime).
        using var client = new HttpClient { BaseAddress = browser.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/limits")).StatusCode);
    }

    [Fact]
    public async Task an_adapter_unblocked_and_given_a_policy_and_allowed_services_on_its_page_holds_them()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);
        var adapter = await System.CreateEmailAdapterAsync($"console-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        await System.ScenarioAsync(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/block", SystemFixture.AdminKey, expect: 200);

        await page.GotoAsync(browser.ConsoleUrl + $"#/adapters/{adapter.Id}");
        await UntilRedrawnAsync(page, () => page.GetByRole(AriaRole.Button, new() { Name = "Unblock adapter" }).ClickAsync());
        await Assertions.Expect(page.GetByText($"{adapter.Name} is unblocked.")).ToBeVisibleAsync();
        // Exact: a role name otherwise matches as a substring, and "Unblock adapter" contains it.
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Block adapter", Exact = true })).ToBeVisibleAsync();
        var (_, stored) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey);
        Assert.Equal("Active", stored.GetProperty("status").GetString());

        var edit = page.GetByRole(AriaRole.Form, new() { Name = "Change the adapter" });
        await edit.GetByLabel("maxAttempts", new() { Exact = true }).FillAsync("9");
        await edit.GetByLabel("rateLimitPerSecond", new() { Exact = true }).FillAsync("3");
        await edit.GetByLabel(System.Tenant.Name, new() { Exact = true }).CheckAsync();
        await UntilRedrawnAsync(page, () => edit.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync());
        await Assertions.Expect(page.GetByText("Saved.")).ToBeVisibleAsync();
        // Drawn again from the API.
        await Assertions.Expect(edit.GetByLabel(System.Tenant.Name, new() { Exact = true })).ToBeCheckedAsync();
        await Assertions.Expect(edit.GetByLabel("maxAttempts", new() { Exact = true })).ToHaveValueAsync("9");

        (_, stored) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey);
        Assert.Equal(9, stored.GetProperty("policy").GetProperty("maxAttempts").GetInt32());
        Assert.Equal(3, stored.GetProperty("policy").GetProperty("rateLimitPerSecond").GetDouble());
        Assert.Equal([System.Tenant.Id], stored.GetProperty("services").EnumerateArray().Select(s => s.GetGuid()).ToArray());

        // The rate limit emptied (null: unlimited) and the service unchecked (none: every service); maxAttempts stays.
        await edit.GetByLabel("rateLimitPerSecond", new() { Exact = true }).FillAsync("");
        await edit.GetByLabel(System.Tenant.Name, new() { Exact = true }).UncheckAsync();
        // "Saved." is still there from the first save: wait for this PATCH's answer instead.
        var patched = await UntilRedrawnAsync(page, () => page.RunAndWaitForResponseAsync(
            () => edit.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync(),
            r => r.Request.Method == "PATCH" && r.Url.EndsWith($"/admin/adapters/{adapter.Id}")));
        Assert.Equal(200, patched.Status);
        Assert.Null(JsonDocument.Parse(patched.Request.PostData!).RootElement.GetProperty("policy").GetProperty("rateLimitPerSecond").GetString());
        await Assertions.Expect(edit.GetByLabel(System.Tenant.Name, new() { Exact = true })).Not.ToBeCheckedAsync();
        await Assertions.Expect(edit.GetByLabel("rateLimitPerSecond", new() { Exact = true })).ToHaveValueAsync("");
        (_, stored) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey);
        var policy = stored.GetProperty("policy");
        Assert.Equal(9, policy.GetProperty("maxAttempts").GetInt32());
        Assert.True(!policy.TryGetProperty("rateLimitPerSecond", out var rate) || rate.ValueKind == JsonValueKind.Null);
        Assert.Equal(0, stored.GetProperty("services").GetArrayLength());
        await browser.ScreenshotAsync(page, "adapter-policy");
    }

    /// <summary>
    /// Runs an action after which the adapter's page draws itself again from the API, and waits until it has: until then
    /// the page shows the form about to be replaced, and what a test fills in there is lost.
    /// </summary>
    private static async Task<T> UntilRedrawnAsync<T>(IPage page, Func<Task<T>> action)
    {
        await page.Locator("form[aria-label='Change the adapter']").EvaluateAsync("form => form.dataset.stale = 'true'");
        var result = await action();
        await Assertions.Expect(page.Locator("form[aria-label='Change the adapter']:not([data-stale])")).ToBeVisibleAsync();
        return result;
    }

    private static Task UntilRedrawnAsync(IPage page, Func<Task> action) => UntilRedrawnAsync(page, async () => { await action(); return true; });
}
