namespace NotificationService.Core.Tests.Console;

/// <summary>The console's files at /console/: no key needed, right content types, and headers that forbid inline script and framing.</summary>
public sealed class when_the_console_is_served(SystemFixture system) : IntegrationContext(system)
{
    [Theory]
    [InlineData("/console", "text/html")]
    [InlineData("/console/", "text/html")]
    [InlineData("/console/app.js", "text/javascript")]
    [InlineData("/console/pages/signin.js", "text/javascript")]
    [InlineData("/console/console.css", "text/css")]
    [InlineData("/console/favicon.svg", "image/svg+xml")]
    public async Task each_file_has_its_type_and_the_security_headers_without_a_key(string url, string type)
    {
        var result = await System.ScenarioAsync(HttpMethod.Get, url, key: null, expect: 200);
        var headers = result.Context.Response.Headers;
        Assert.StartsWith(type, result.Context.Response.ContentType);
        var csp = headers.ContentSecurityPolicy.ToString();
        Assert.Contains("default-src 'self'", csp);
        Assert.Contains("script-src 'self'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Equal("nosniff", headers.XContentTypeOptions.ToString());
        Assert.Equal("DENY", headers.XFrameOptions.ToString());
        Assert.Equal("no-referrer", headers["Referrer-Policy"].ToString());
        if (type == "text/html") Assert.Contains("<nav aria-label=\"Main\"", await result.ReadAsTextAsync());
    }

    [Fact]
    public async Task an_unknown_file_is_a_404_problem_and_an_unchanged_one_a_304()
    {
        var missing = await System.ScenarioAsync(HttpMethod.Get, "/console/nope.js", key: null, expect: 404);
        Assert.Equal("Not found.", (await SystemFixture.BodyOf(missing)).GetProperty("title").GetString());
        var first = await System.ScenarioAsync(HttpMethod.Get, "/console/ui.js", key: null, expect: 200);
        var etag = first.Context.Response.Headers.ETag.ToString();
        await System.ScenarioAsync(HttpMethod.Get, "/console/ui.js", key: null, expect: 304, also: s => s.WithRequestHeader("If-None-Match", etag));
    }
}
