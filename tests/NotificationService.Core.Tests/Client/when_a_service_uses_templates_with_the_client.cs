using Microsoft.Extensions.DependencyInjection;
using NotificationService.Client;
using NotificationService.Core.Tests.Templates;

namespace NotificationService.Core.Tests.Client;

/// <summary>The template methods of the client library against the real core.</summary>
public sealed class when_a_service_uses_templates_with_the_client(SystemFixture system) : IntegrationContext(system), IDisposable
{
    private readonly List<ServiceProvider> _providers = [];

    private (NotificationClient Client, NotificationAdminClient Admin) Clients(string serviceKey)
    {
        var services = new ServiceCollection();
        services.AddNotificationClient(o => (o.BaseAddress, o.ApiKey) = (System.Core.Server.BaseAddress, serviceKey))
            .ConfigurePrimaryHttpMessageHandler(() => System.Core.Server.CreateHandler());
        services.AddNotificationAdminClient(o => (o.BaseAddress, o.ApiKey) = (System.Core.Server.BaseAddress, SystemFixture.AdminKey))
            .ConfigurePrimaryHttpMessageHandler(() => System.Core.Server.CreateHandler());
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return (provider.GetRequiredService<NotificationClient>(), provider.GetRequiredService<NotificationAdminClient>());
    }

    [Fact]
    public async Task a_template_is_managed_previewed_and_used_in_an_offer()
    {
        var (client, admin) = Clients(System.Tenant.ApiKey);
        var key = TemplateApi.UniqueKey("client");
        var added = await client.CreateTemplateAsync(new CreateTemplateRequest(key, "email", "en", new Dictionary<string, object>
        {
            ["en"] = new { to = "{{ email }}", subject = "Hi {{ name }}", text = "t" },
        }));
        Assert.Equal(1, added.Version);
        var changed = await client.UpdateTemplateAsync(key, new UpdateTemplateRequest
        {
            Variants = new Dictionary<string, object?> { ["de"] = new { to = "{{ email }}", subject = "Hallo {{ name }}", text = "t" } },
        });
        Assert.Equal(2, changed.Version);
        Assert.Contains(key, (await client.ListTemplatesAsync(pageSize: 200)).Items.Select(t => t.Key));
        Assert.Equal("de", (await client.GetTemplateAsync(key)).Variants.Keys.Order().First());
        Assert.Equal(2, (await client.GetTemplateHistoryAsync(key)).Count);
        var preview = await client.PreviewTemplateAsync(key, new PreviewTemplateRequest(new { email = "c@example.test", name = "Cy" }) { Locale = "de-DE" });
        Assert.Equal("Hallo Cy", preview.Params.GetProperty("subject").GetString());

        var accepted = await client.CreateOfferAsync(new CreateOfferRequest(
            [OfferTarget.FromTemplate(System.Email.Name, key, new { email = "c@example.test", name = "Cy" }, "de")]) { SendAt = DateTimeOffset.UtcNow.AddHours(1) });
        var offer = await client.GetOfferAsync(accepted.Id);
        Assert.Equal((key, 2L, "de"), (offer.Templates![0].Key, offer.Templates[0].Version, offer.Templates[0].Locale));
        Assert.Equal(key, (await client.DeleteTemplateAsync(key)).Key);

        var sharedKey = TemplateApi.UniqueKey("client-shared");
        var shared = await admin.CreateSharedTemplateAsync(new CreateSharedTemplateRequest(sharedKey, "sms", "en",
            new Dictionary<string, object> { ["en"] = new { to = "{{ phone }}", text = "x" } }, [System.Tenant.Id]));
        Assert.Equal([System.Tenant.Id], (await admin.GetSharedTemplateAsync(shared.Id)).Services);
        Assert.Contains((await admin.ListSharedTemplatesAsync(pageSize: 200)).Items, t => t.Id == shared.Id);
        Assert.True((await client.GetTemplateAsync(sharedKey)).Shared);
        await admin.DeleteSharedTemplateAsync(shared.Id);
    }

    public void Dispose()
    {
        foreach (var provider in _providers) provider.Dispose();
    }
}
