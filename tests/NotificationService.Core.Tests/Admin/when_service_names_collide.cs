using System.Text.Json;
using NotificationService.Core.Invites;

namespace NotificationService.Core.Tests.Admin;

/// <summary>A service name is unique: creating, self-registering or renaming onto a taken name gets 409.</summary>
public sealed class when_service_names_collide(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix} {Guid.NewGuid():N}";

    [Fact]
    public async Task a_created_registered_or_renamed_service_cannot_take_a_taken_name()
    {
        var taken = await System.CreateTenantAsync(UniqueName("taken"));

        var (created, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/services", SystemFixture.AdminKey, new { name = taken.Name });
        Assert.Equal(409, created);
        Assert.Contains(taken.Name, problem.GetProperty("detail").GetString());
        // Surrounding blanks are trimmed before the name is stored, so they do not make a different name.
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Post, "/admin/services", SystemFixture.AdminKey, new { name = $" {taken.Name} " })).Status);

        var invite = await System.SendAsync<InviteCreated>(HttpMethod.Post, "/admin/invites", SystemFixture.AdminKey, new { }, expect: 201);
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = taken.Name, inviteCode = invite.Code })).Status);
        // The refused registration did not use up the invite.
        Assert.Equal(201, (await System.SendForStatusAsync(HttpMethod.Post, "/v1/register", key: null, new { name = UniqueName("fresh"), inviteCode = invite.Code })).Status);

        var other = await System.CreateTenantAsync(UniqueName("other"));
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{other.Id}", SystemFixture.AdminKey, new { name = taken.Name })).Status);
        // Renaming a service to its own name is no conflict.
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{taken.Id}", SystemFixture.AdminKey, new { name = taken.Name })).Status);

        var services = await System.SendAsync<List<JsonElement>>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        Assert.Single(services, s => s.GetProperty("name").GetString() == taken.Name);
    }

    [Fact]
    public async Task concurrent_creates_with_one_name_make_one_service()
    {
        var name = UniqueName("racer");
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            System.SendForStatusAsync(HttpMethod.Post, "/admin/services", SystemFixture.AdminKey, new { name })));

        Assert.Single(results, r => r.Status == 201);
        Assert.All(results.Where(r => r.Status != 201), r => Assert.Equal(409, r.Status));
        var services = await System.SendAsync<List<JsonElement>>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        Assert.Single(services, s => s.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task concurrent_renames_to_one_name_leave_one_service_with_it()
    {
        var name = UniqueName("target");
        var tenants = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => System.CreateTenantAsync(UniqueName($"source{i}"))));
        var results = await Task.WhenAll(tenants.Select(t =>
            System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{t.Id}", SystemFixture.AdminKey, new { name })));

        Assert.Single(results, r => r.Status == 200);
        Assert.All(results.Where(r => r.Status != 200), r => Assert.Equal(409, r.Status));
        var services = await System.SendAsync<List<JsonElement>>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        Assert.Single(services, s => s.GetProperty("name").GetString() == name);
    }
}
