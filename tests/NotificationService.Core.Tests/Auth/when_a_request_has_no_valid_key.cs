namespace NotificationService.Core.Tests.Auth;

public sealed class when_a_request_has_no_valid_key(SystemFixture system) : IntegrationContext(system)
{
    [Theory]
    [InlineData(null)]
    [InlineData("nss_not-a-real-key")]
    [InlineData("something-else")]
    public async Task the_client_api_answers_401_with_a_problem(string? key)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}", key);
        Assert.Equal(401, status);
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task an_admin_key_cannot_use_the_client_api_and_a_service_key_cannot_use_the_admin_api()
    {
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", SystemFixture.AdminKey, new { })).Status);
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Post, "/admin/services", System.Tenant.ApiKey, new { name = "x" })).Status);
    }

    [Fact]
    public async Task a_key_in_the_query_string_is_not_accepted()
    {
        var (status, _) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}?api_key={System.Tenant.ApiKey}", key: null);
        Assert.Equal(401, status);
    }
}
