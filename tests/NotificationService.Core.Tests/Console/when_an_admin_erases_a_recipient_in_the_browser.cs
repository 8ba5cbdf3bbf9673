using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>The Erasures page: a recipient erased through the form, the count shown, the audit row (its hash, never the address).</summary>
public sealed class when_an_admin_erases_a_recipient_in_the_browser(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_recipient_erased_on_the_page_loses_the_params_of_its_jobs_and_the_audit_lists_only_its_hash()
    {
        var address = $"erase-{Guid.NewGuid():N}"[..20] + "@example.test";
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, address) } });
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await browser.SignInAsync(page);

        await page.GetByRole(AriaRole.Link, new() { Name = "Erasures" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Erasures", Level = 1 })).ToBeVisibleAsync();
        var form = page.GetByRole(AriaRole.Form, new() { Name = "Erase a recipient" });
        await form.GetByLabel("Recipient", new() { Exact = true }).FillAsync("not an address");
        await form.GetByRole(AriaRole.Button, new() { Name = "Erase" }).ClickAsync();
        await Assertions.Expect(form.GetByText("recipient: Must be an email address")).ToBeVisibleAsync();
        await Assertions.Expect(form.GetByLabel("Recipient", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");

        await form.GetByLabel("Recipient", new() { Exact = true }).FillAsync(address);
        await form.GetByRole(AriaRole.Button, new() { Name = "Erase" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Erased the params of 1 job.")).ToBeVisibleAsync();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"email:{address}")));
        await Assertions.Expect(page.GetByRole(AriaRole.Table, new() { Name = "Erasures" }).GetByRole(AriaRole.Row).Filter(new() { HasText = hash }))
            .ToContainTextAsync("admin:");
        Assert.DoesNotContain(address, await page.ContentAsync());
        await browser.ScreenshotAsync(page, "erasures");

        var audit = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/erasures", SystemFixture.AdminKey, expect: 200);
        var entry = Assert.Single(audit.GetProperty("items").EnumerateArray(), e => e.GetProperty("recipientSha256").GetString() == hash);
        Assert.Equal(1, entry.GetProperty("erased").GetInt32());
        var job = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{offer.Jobs[0].Id}", SystemFixture.AdminKey, expect: 200);
        Assert.DoesNotContain(address, job.ToString());
    }
}
