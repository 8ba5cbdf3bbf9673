namespace NotificationService.Core.Tests.Jobs;

public sealed class when_a_tenant_reads_jobs(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task another_tenants_job_looks_exactly_like_a_missing_one()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        var offer = await System.CreateOfferAsync(System.Tenant,
            new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "private@example.test") } });
        var jobId = offer.Jobs[0].Id;

        var theirs = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}", other.ApiKey);
        var missing = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}", other.ApiKey);
        var theirEvents = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}/events", other.ApiKey);

        Assert.Equal(404, theirs.Status);
        Assert.Equal(404, missing.Status);
        Assert.Equal(404, theirEvents.Status);
        Assert.Equal(theirs.Body.GetProperty("title").GetString(), missing.Body.GetProperty("title").GetString());
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}", System.Tenant.ApiKey)).Status);
    }
}
