using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;

namespace NotificationService.Core.Tests.Offers;

/// <summary>GET /v1/offers with metadata.&lt;key&gt;=&lt;value&gt; filters (once silently ignored), beside its page and pageSize.</summary>
public sealed class when_a_service_searches_its_offers(SystemFixture system) : IntegrationContext(system)
{
    private Task<OfferAccepted> OfferAsync(Tenant tenant, object? metadata) =>
        System.CreateOfferAsync(tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "someone@example.test") },
            metadata, sendAt = DateTimeOffset.UtcNow.AddDays(1),
        });

    private async Task<HashSet<Guid>> IdsAsync(string query, Tenant? tenant = null) =>
        (await System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, $"/v1/offers{query}", (tenant ?? System.Tenant).ApiKey, expect: 200))
        .Items.Select(o => o.Id).ToHashSet();

    [Fact]
    public async Task metadata_filters_keep_the_offers_holding_every_pair()
    {
        var acmeEu = await OfferAsync(System.Tenant, new { customer = "acme", region = "eu" });
        var acmeUs = await OfferAsync(System.Tenant, new { customer = "acme", region = "us" });
        var none = await OfferAsync(System.Tenant, null);
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        await OfferAsync(other, new { customer = "acme", region = "eu" });

        Assert.Equal([acmeEu.Id, acmeUs.Id], await IdsAsync("?metadata.customer=acme"));
        Assert.Equal([acmeEu.Id], await IdsAsync("?metadata.customer=acme&metadata.region=eu"));
        Assert.Empty(await IdsAsync("?metadata.customer=acme&metadata.region=asia"));
        Assert.Equal([acmeEu.Id], await IdsAsync("?Metadata.customer=acme&METADATA.region=eu")); // the prefix in any case
        Assert.Equal([acmeEu.Id, acmeUs.Id, none.Id], await IdsAsync(""));

        var page = await System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, "/v1/offers?metadata.customer=acme&pageSize=1&page=2", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(2, page.Total); // the total counts the filtered offers
        Assert.Equal([acmeEu.Id], page.Items.Select(o => o.Id));
    }

    [Theory]
    [InlineData("?metadata.=acme", "metadata.")]
    [InlineData("?metadata.customer=a&metadata.customer=b", "metadata.customer")]
    [InlineData("?metadata.a=1&metadata.b=1&metadata.c=1&metadata.d=1&metadata.e=1&metadata.f=1&metadata.g=1&metadata.h=1&metadata.i=1&metadata.j=1&metadata.k=1", "metadata")]
    [InlineData("?metadata.%00=x", "metadata.\u0000")] // jsonb cannot hold NUL: was a 500 (22P05)
    [InlineData("?metadata.%1F=x", "metadata.\u001F")]
    [InlineData("?state=Queued", "state")] // not a filter here: was ignored, and every offer came back
    [InlineData("?page=1&limit=5", "limit")]
    public async Task a_bad_metadata_filter_is_a_422_naming_the_field(string query, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/offers{query}", System.Tenant.ApiKey);

        Assert.Equal(422, status);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }
}
