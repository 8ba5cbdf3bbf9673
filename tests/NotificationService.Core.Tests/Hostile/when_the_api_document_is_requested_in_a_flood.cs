using System.Net;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>
/// <c>/openapi/v1.json</c> needs no key, and ASP.NET Core generated it for every request (about 80 ms of CPU): a few
/// requests a second from anyone slowed every tenant. It is generated once and served from the output cache, whatever
/// host, query string or Authorization header a request carries (the default policy would generate it again for each).
/// </summary>
public sealed class when_the_api_document_is_requested_in_a_flood(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task every_request_after_the_first_is_served_from_one_cached_copy()
    {
        var first = await GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, first.Response.StatusCode);

        var flood = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => GetAsync(
            $"/openapi/v1.json?nocache={i}", host: $"host-{i}.example", authorization: i % 2 == 0 ? $"Bearer junk-{i}" : null)));

        Assert.All(flood, request =>
        {
            Assert.Equal(HttpStatusCode.OK, request.Response.StatusCode);
            // Output caching sets Age only on a response it served from its store.
            Assert.True(request.Response.Headers.Age is not null, $"{request.Url} was generated again, not served from the cache");
            Assert.Equal(first.Body, request.Body);
        });
        Assert.Equal("application/json;charset=utf-8", flood[0].Response.Content.Headers.ContentType?.ToString().Replace(" ", ""));
    }

    private async Task<(string Url, HttpResponseMessage Response, byte[] Body)> GetAsync(string url, string? host = null, string? authorization = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (host is not null) request.Headers.Host = host;
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        var response = await System.Http.SendAsync(request);
        return (url, response, await response.Content.ReadAsByteArrayAsync());
    }
}
