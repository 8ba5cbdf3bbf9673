using System.Text.Json;

namespace NotificationService.Core.Tests.Retention;

public sealed class when_an_admin_sets_retention(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_merge_patch_sets_and_resets_the_service_retention_and_the_service_shows_it()
    {
        var tenant = await System.CreateTenantAsync($"retention-{Guid.NewGuid():N}");
        var url = $"/admin/services/{tenant.Id}/retention";

        var set = await System.SendAsync<JsonElement>(HttpMethod.Patch, url, SystemFixture.AdminKey, new { paramsDays = 0, jobsDays = 90 }, expect: 200);
        Assert.Equal("""{"paramsDays":0,"jobsDays":90,"idempotencyDays":null}""", set.GetProperty("set").GetRawText());
        Assert.Equal("""{"paramsDays":0,"jobsDays":90,"idempotencyDays":7}""", set.GetProperty("effective").GetRawText());

        // Left out: kept; null: back to the default.
        await System.SendAsync<JsonElement>(HttpMethod.Patch, url, SystemFixture.AdminKey, JsonDocument.Parse("""{"paramsDays":null,"idempotencyDays":2}""").RootElement, expect: 200);
        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("""{"paramsDays":null,"jobsDays":90,"idempotencyDays":2}""", service.GetProperty("retention").GetProperty("set").GetRawText());
        Assert.Equal("""{"paramsDays":30,"jobsDays":90,"idempotencyDays":2}""", service.GetProperty("retention").GetProperty("effective").GetRawText());

        var history = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}/history", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(2, history.EnumerateArray().Count(e => e.GetProperty("type").GetString() == "ServiceRetentionSet"));
    }

    [Theory]
    [InlineData("""{"jobsDays":0}""", 422, "jobsDays")]
    [InlineData("""{"paramsDays":-1}""", 422, "paramsDays")]
    [InlineData("""{"idempotencyDays":36501}""", 422, "idempotencyDays")]
    [InlineData("""{"paramsDays":1.5}""", 422, "paramsDays")]
    [InlineData("""{"paramsDays":"30"}""", 400, "paramsDays")]
    [InlineData("""{"params_days":30}""", 400, "params_days")]
    public async Task bad_input_is_a_problem_naming_the_field_and_changes_nothing(string body, int status, string field)
    {
        var (actual, problem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{System.Tenant.Id}/retention", SystemFixture.AdminKey,
            JsonDocument.Parse(body).RootElement);

        Assert.Equal(status, actual);
        Assert.Contains(field, problem.GetProperty("detail").GetString());
        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{System.Tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("""{"paramsDays":null,"jobsDays":null,"idempotencyDays":null}""", service.GetProperty("retention").GetProperty("set").GetRawText());
    }

    [Fact]
    public async Task only_an_admin_may_and_an_unknown_service_is_404()
    {
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{System.Tenant.Id}/retention", System.Tenant.ApiKey, new { paramsDays = 1 })).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{Guid.NewGuid()}/retention", SystemFixture.AdminKey, new { paramsDays = 1 })).Status);
    }
}
