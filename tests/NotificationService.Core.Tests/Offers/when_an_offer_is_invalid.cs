using System.Net.Http.Headers;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_an_offer_is_invalid(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task every_schema_violation_is_reported_with_its_path_and_nothing_is_stored()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new
        {
            targets = new object[]
            {
                ClientApi.EmailTarget(System.Email.Name, "fine@example.test"),
                new { adapter = System.Email.Name, @params = new { to = "not-an-address", subject = "", colour = "red" } },
                new { adapter = "no-such-adapter", @params = new { } },
            },
        });

        Assert.Equal(422, status);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("targets[1].params.subject", out _), problem.ToString());
        Assert.True(errors.TryGetProperty("targets[1].params.colour", out _), problem.ToString());
        Assert.True(errors.TryGetProperty("targets[1].params.to", out _), problem.ToString());
        Assert.True(errors.TryGetProperty("targets[2].adapter", out _), problem.ToString());
        Assert.False(errors.TryGetProperty("targets[0].params", out _), "the valid target is not reported");

        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task an_offer_without_targets_names_the_field()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new { metadata = new { a = "b" } });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("targets", out _));
    }

    [Fact]
    public async Task an_expiry_in_the_past_is_refused()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "late@example.test") },
            expireAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("expireAt", out _));
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task broken_json_gets_a_400_problem_not_a_500()
    {
        var response = await System.Core.Scenario(s =>
        {
            s.Post.RawJson("{\"targets\":[{\"adapter\":").ToUrl("/v1/offers");
            s.WithRequestHeader("Authorization", $"Bearer {System.Tenant.ApiKey}");
            s.StatusCodeShouldBe(400);
        });
        Assert.Equal("application/problem+json", MediaTypeHeaderValue.Parse(response.Context.Response.ContentType!).MediaType);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task a_body_over_one_megabyte_gets_413_and_is_not_read()
    {
        var huge = new string('x', 1_100_000);
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "big@example.test", text: huge) } });
        Assert.Equal(413, status);
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task a_wrongly_typed_field_gets_a_400_problem_naming_it()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = "not-a-list" });
        Assert.Equal(400, status);
        Assert.Contains("targets", problem.GetProperty("detail").GetString());
        await AssertNothingStoredAsync();
    }

    [Theory]
    [InlineData("/v1/offers?page=abc")]
    [InlineData("/v1/offers?pageSize=0")]
    [InlineData("/v1/jobs/not-a-guid")]
    public async Task malformed_query_values_and_ids_get_a_4xx_problem(string url)
    {
        var (status, _) = await System.SendForStatusAsync(HttpMethod.Get, url, System.Tenant.ApiKey);
        Assert.InRange(status, 400, 422);
    }

    [Theory]
    [InlineData("POST", "/v1/offers", false)]
    [InlineData("PATCH", "/v1/offers/00000000-0000-0000-0000-000000000001", false)]
    [InlineData("POST", "/v1/register", false)]
    [InlineData("POST", "/admin/services", true)]
    [InlineData("POST", "/admin/adapters", true)]
    [InlineData("POST", "/admin/invites", true)]
    public async Task a_null_body_gets_400_on_every_endpoint_that_takes_one(string method, string url, bool admin)
    {
        await System.Core.Scenario(s =>
        {
            s.Post.RawJson("null").ToUrl(url);
            s.ConfigureHttpContext(c => c.Request.Method = method);
            s.WithRequestHeader("Authorization", $"Bearer {(admin ? SystemFixture.AdminKey : System.Tenant.ApiKey)}");
            s.StatusCodeShouldBe(400);
        });
    }

    private async Task AssertNothingStoredAsync()
    {
        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Equal(0, await session.Query<Offer>().CountAsync());
        Assert.Equal(0, await session.Query<Job>().CountAsync());
    }
}
