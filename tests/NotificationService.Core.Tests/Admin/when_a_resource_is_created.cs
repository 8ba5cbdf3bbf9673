using System.Text.Json;
using Alba;
using NotificationService.Core.Invites;

namespace NotificationService.Core.Tests.Admin;

/// <summary>Every 201 carries a Location that an admin can GET.</summary>
public sealed class when_a_resource_is_created(SystemFixture system) : IntegrationContext(system)
{
    private async Task<(string Location, JsonElement Body)> CreateAsync(string url, string? key, object body)
    {
        var created = await System.Core.Scenario(s =>
        {
            s.Post.Json(body).ToUrl(url);
            if (key is not null) s.WithRequestHeader("Authorization", $"Bearer {key}");
            s.StatusCodeShouldBe(201);
            s.Header("Location").ShouldHaveOneNonNullValue();
        });
        return (created.Context.Response.Headers.Location.ToString(), await SystemFixture.BodyOf(created));
    }

    private async Task<JsonElement> FollowAsync(string location)
    {
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Get, location, SystemFixture.AdminKey);
        Assert.True(status == 200, $"GET {location}: {status} {body}");
        return body;
    }

    [Fact]
    public async Task its_location_resolves_for_every_create_endpoint()
    {
        var (serviceAt, service) = await CreateAsync("/admin/services", SystemFixture.AdminKey, new { name = $"located {Guid.NewGuid():N}" });
        Assert.Equal(service.GetProperty("id").GetGuid(), (await FollowAsync(serviceAt)).GetProperty("id").GetGuid());

        var serviceId = service.GetProperty("id").GetGuid();
        var (keyAt, key) = await CreateAsync($"/admin/services/{serviceId}/keys", SystemFixture.AdminKey, new { });
        var keys = (await FollowAsync(keyAt)).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("keyId").GetGuid());
        Assert.Contains(key.GetProperty("keyId").GetGuid(), keys);

        var (inviteAt, invite) = await CreateAsync("/admin/invites", SystemFixture.AdminKey, new { note = "located" });
        var shown = (await FollowAsync(inviteAt)).Deserialize<InviteView>(SystemFixture.Json)!;
        Assert.Equal((invite.GetProperty("id").GetGuid(), "located", (DateTimeOffset?)null), (shown.Id, shown.Note, shown.UsedAt));

        var (registeredAt, registered) = await CreateAsync("/v1/register", null,
            new { name = $"registered {Guid.NewGuid():N}", inviteCode = invite.GetProperty("code").GetString() });
        Assert.Equal(registered.GetProperty("id").GetGuid(), (await FollowAsync(registeredAt)).GetProperty("id").GetGuid());
        Assert.Equal(registered.GetProperty("id").GetGuid(), (await FollowAsync(inviteAt)).GetProperty("serviceId").GetGuid());

        var (adapterAt, adapter) = await CreateAsync("/admin/adapters", SystemFixture.AdminKey, new
        {
            name = $"located-{Guid.NewGuid():N}"[..20], type = "email",
            config = new { host = "127.0.0.1", port = System.Smtp.Port, security = "none", from = "ns@example.test" },
        });
        Assert.Equal(adapter.GetProperty("id").GetGuid(), (await FollowAsync(adapterAt)).GetProperty("id").GetGuid());

        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/invites/{Guid.NewGuid()}", SystemFixture.AdminKey)).Status);
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Get, inviteAt, System.Tenant.ApiKey)).Status);
    }
}
