using NotificationService.Core.Invites;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Admin;

public sealed class when_a_person_registers_with_an_invite(SystemFixture system) : IntegrationContext(system)
{
    private Task<InviteCreated> InviteAsync(double? hours = null) =>
        System.SendAsync<InviteCreated>(HttpMethod.Post, "/admin/invites", SystemFixture.AdminKey, new { note = "for Ada", expiresInHours = hours }, expect: 201);

    [Fact]
    public async Task the_code_buys_one_service_with_a_working_key_and_only_once()
    {
        var invite = await InviteAsync();
        var (status, created) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = "Ada's shop", inviteCode = invite.Code });
        Assert.Equal(201, status);
        var key = created.GetProperty("apiKey").GetString()!;
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, "/v1/adapters", key)).Status);

        var (again, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = "Second", inviteCode = invite.Code });
        Assert.Equal(422, again);
        Assert.Contains("already used", problem.GetProperty("errors").GetProperty("inviteCode")[0].GetString());

        var invites = await System.SendAsync<List<InviteView>>(HttpMethod.Get, "/admin/invites", SystemFixture.AdminKey, expect: 200);
        var used = Assert.Single(invites, i => i.Id == invite.Id);
        Assert.Equal(created.GetProperty("id").GetGuid(), used.ServiceId);
    }

    [Fact]
    public async Task an_expired_or_unknown_code_creates_nothing()
    {
        var invite = await InviteAsync(hours: 0.00005); // 180 ms
        // No message marks an invite's expiry (the register request checks the time): wait for that instant, not longer.
        await Eventually.Until(() => DateTimeOffset.UtcNow > invite.ExpiresAt, what: "the invite to expire");
        var before = (await System.SendAsync<List<NotificationService.Core.ServiceAdmin.ServiceView>>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200)).Count;

        var (expired, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = "Late", inviteCode = invite.Code });
        Assert.Equal(422, expired);
        Assert.Contains("expired", problem.GetProperty("errors").GetProperty("inviteCode")[0].GetString());
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = "X", inviteCode = "nsi_made-up" })).Status);
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = "", inviteCode = invite.Code })).Status);

        var after = (await System.SendAsync<List<NotificationService.Core.ServiceAdmin.ServiceView>>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200)).Count;
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task two_people_racing_on_one_code_make_one_service()
    {
        var invite = await InviteAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = $"racer {i}", inviteCode = invite.Code })));

        Assert.Single(results, r => r.Status == 201);
        Assert.All(results.Where(r => r.Status != 201), r => Assert.Contains(r.Status, new[] { 409, 422 }));
    }

    [Fact]
    public async Task a_revoked_code_buys_nothing_and_a_used_one_cannot_be_revoked()
    {
        var invite = await InviteAsync();
        var revoked = await System.SendAsync<InviteView>(HttpMethod.Delete, $"/admin/invites/{invite.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.NotNull(revoked.RevokedAt);
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = $"late {Guid.NewGuid():N}", inviteCode = invite.Code });
        Assert.Equal(422, status);
        Assert.Contains("revoked", problem.GetProperty("errors").GetProperty("inviteCode")[0].GetString());
        Assert.Equal(revoked.RevokedAt, (await System.SendAsync<InviteView>(HttpMethod.Get, $"/admin/invites/{invite.Id}", SystemFixture.AdminKey, expect: 200)).RevokedAt);

        var used = await InviteAsync();
        Assert.Equal(201, (await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = $"early {Guid.NewGuid():N}", inviteCode = used.Code })).Status);
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/invites/{used.Id}", SystemFixture.AdminKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/invites/{Guid.NewGuid()}", SystemFixture.AdminKey)).Status);
    }

    [Fact]
    public async Task a_revocation_racing_a_registration_lets_only_one_of_them_win()
    {
        for (var round = 0; round < 5; round++)
        {
            var invite = await InviteAsync();
            var register = System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = $"racer {Guid.NewGuid():N}", inviteCode = invite.Code });
            var revoke = System.SendForStatusAsync(HttpMethod.Delete, $"/admin/invites/{invite.Id}", SystemFixture.AdminKey);
            var (registered, revokedStatus) = ((await register).Status, (await revoke).Status);

            var after = await System.SendAsync<InviteView>(HttpMethod.Get, $"/admin/invites/{invite.Id}", SystemFixture.AdminKey, expect: 200);
            if (registered == 201) Assert.Equal((409, (DateTimeOffset?)null), (revokedStatus, after.RevokedAt));
            else Assert.Equal((200, (Guid?)null), (revokedStatus, after.ServiceId));
        }
    }

    [Fact]
    public async Task only_admins_create_invites() =>
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Post, "/admin/invites", System.Tenant.ApiKey, new { })).Status);
}
