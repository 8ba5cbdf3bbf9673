using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>A service's limits and retention edited on its page: only what changed is sent, a refused value shows at its field.</summary>
public sealed class when_an_admin_sets_a_services_limits_and_retention_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task limits_typed_on_the_page_are_the_services_own_and_an_emptied_one_goes_back_to_the_default()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        var tenant = await System.CreateTenantAsync($"console-{Guid.NewGuid():N}"[..20]);

        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{tenant.Id}");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "Limits" });
        await form.GetByLabel("Offers per second").FillAsync("2.5");
        await form.GetByLabel("Burst").FillAsync("7");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save limits" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Limits saved.")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("Burst")).ToHaveValueAsync("7"); // redrawn from the API's answer
        await Assertions.Expect(form).ToContainTextAsync("In force: 7.");
        await browser.ScreenshotAsync(page, "service-limits");

        var limits = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(2.5, limits.GetProperty("own").GetProperty("offersPerSecond").GetDouble());
        Assert.Equal(7, limits.GetProperty("own").GetProperty("burst").GetInt32());
        Assert.Equal(7, limits.GetProperty("effective").GetProperty("burst").GetInt32());
        Assert.Equal(JsonValueKind.Null, limits.GetProperty("own").GetProperty("pendingJobs").ValueKind); // not touched: still the default

        // Emptied: null, the default again; the rate stays as set (a merge patch of the one field).
        await form.GetByLabel("Burst").FillAsync("");
        // "Limits saved." is still there from the first save: wait for this PATCH's answer, and see that it sent one field.
        var patched = await page.RunAndWaitForResponseAsync(() => form.GetByRole(AriaRole.Button, new() { Name = "Save limits" }).ClickAsync(),
            r => r.Request.Method == "PATCH" && r.Url.EndsWith($"/admin/services/{tenant.Id}/limits"));
        Assert.Equal(200, patched.Status);
        Assert.Equal("""{"burst":null}""", patched.Request.PostData);
        limits = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(JsonValueKind.Null, limits.GetProperty("own").GetProperty("burst").ValueKind);
        Assert.Equal(2.5, limits.GetProperty("own").GetProperty("offersPerSecond").GetDouble());
        var burst = limits.GetProperty("effective").GetProperty("burst").GetInt32();
        Assert.NotEqual(7, burst);
        // Redrawn: the field is empty and its hint shows the default in force.
        await Assertions.Expect(form.GetByLabel("Burst")).ToHaveAccessibleDescriptionAsync($"In force: {burst}. Empty: the default.");
        await Assertions.Expect(form.GetByLabel("Burst")).ToHaveValueAsync("");

        // A value the API refuses: its message under the field, which is marked invalid; nothing stored.
        await form.GetByLabel("Jobs per offer").FillAsync("0");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save limits" }).ClickAsync();
        await Assertions.Expect(form.GetByText("jobsPerOffer: must be an integer from 1 to 10000")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("Jobs per offer")).ToHaveAttributeAsync("aria-invalid", "true");
        await browser.ScreenshotAsync(page, "service-limits-problem");
        limits = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(JsonValueKind.Null, limits.GetProperty("own").GetProperty("jobsPerOffer").ValueKind);
        var history = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/history", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(2, history.EnumerateArray().Count(e => e.GetProperty("type").GetString() == "ServiceLimitsChanged"));
    }

    [Fact]
    public async Task retention_typed_on_the_page_is_the_services_and_a_refused_value_shows_at_its_field()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await browser.SignInAsync(page);
        var tenant = await System.CreateTenantAsync($"console-{Guid.NewGuid():N}"[..20]);

        await page.GotoAsync(browser.ConsoleUrl + $"#/services/{tenant.Id}");
        var form = page.GetByRole(AriaRole.Form, new() { Name = "Retention" });
        await form.GetByLabel("Job params kept (days)").FillAsync("10");
        await form.GetByLabel("Ended offers and jobs kept (days)").FillAsync("400");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save retention" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Retention saved.")).ToBeVisibleAsync();
        await Assertions.Expect(form).ToContainTextAsync("In force: 10 days.");
        await browser.ScreenshotAsync(page, "service-retention");

        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        var set = service.GetProperty("retention").GetProperty("set");
        Assert.Equal(10, set.GetProperty("paramsDays").GetInt32());
        Assert.Equal(400, set.GetProperty("jobsDays").GetInt32());
        Assert.Equal(JsonValueKind.Null, set.GetProperty("idempotencyDays").ValueKind);
        Assert.Equal(10, service.GetProperty("retention").GetProperty("effective").GetProperty("paramsDays").GetInt32());

        await form.GetByLabel("Idempotency keys kept (days)").FillAsync("0");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save retention" }).ClickAsync();
        await Assertions.Expect(form.GetByText("idempotencyDays: Must be a whole number of days from 1")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("Idempotency keys kept (days)")).ToHaveAttributeAsync("aria-invalid", "true");
        service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(JsonValueKind.Null, service.GetProperty("retention").GetProperty("set").GetProperty("idempotencyDays").ValueKind);
        Assert.DoesNotContain(browser.ErrorsOf(page), e => !e.Contains("401") && !e.Contains("422"));
    }
}
