using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Auth;
using NotificationService.Core.Console;
using NotificationService.Storage;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>The console's session: a cookie that stands in for the admin key on /admin, with a CSRF token for changes.</summary>
public sealed class when_an_admin_signs_in_to_the_console(SystemFixture system) : IntegrationContext(system)
{
    private static Action<Scenario> WithCookie(string token, string? csrf = null) => s =>
    {
        s.WithRequestHeader("Cookie", $"ns_console={token}");
        if (csrf is not null) s.WithRequestHeader("X-CSRF-Token", csrf);
    };

    /// <summary>Signs in through the endpoint; the session token from Set-Cookie and the CSRF token from GET /console/session.</summary>
    private async Task<(string Token, string Csrf)> SignInAsync()
    {
        var signIn = await System.ScenarioAsync(HttpMethod.Post, "/console/session", key: null, new { key = SystemFixture.AdminKey }, expect: 204);
        var token = TokenOf(signIn.Context.Response.Headers.SetCookie.ToString());
        var session = await SystemFixture.BodyOf(await System.ScenarioAsync(HttpMethod.Get, "/console/session", null, expect: 200, also: WithCookie(token)));
        return (token, session.GetProperty("csrfToken").GetString()!);
    }

    private static string TokenOf(string setCookie)
    {
        Assert.StartsWith("ns_console=", setCookie);
        return setCookie["ns_console=".Length..setCookie.IndexOf(';')];
    }

    [Fact]
    public async Task the_admin_key_opens_a_session_held_by_an_http_only_cookie_that_is_not_the_key()
    {
        var signIn = await System.ScenarioAsync(HttpMethod.Post, "/console/session", key: null, new { key = SystemFixture.AdminKey }, expect: 204);
        var setCookie = signIn.Context.Response.Headers.SetCookie.ToString().ToLowerInvariant();
        Assert.Contains("httponly", setCookie);
        Assert.Contains("samesite=strict", setCookie);
        Assert.Contains("path=/", setCookie);
        Assert.DoesNotContain("secure", setCookie); // plain HTTP here; over HTTPS the cookie is Secure
        Assert.Equal("no-store", signIn.Context.Response.Headers.CacheControl.ToString());
        var token = TokenOf(signIn.Context.Response.Headers.SetCookie.ToString());
        Assert.DoesNotContain(SystemFixture.AdminKey, token);

        var result = await System.ScenarioAsync(HttpMethod.Get, "/console/session", null, expect: 200, also: WithCookie(token));
        Assert.Equal("no-store", result.Context.Response.Headers.CacheControl.ToString());
        var session = await SystemFixture.BodyOf(result);
        Assert.Equal($"admin:{ApiKeys.Hash(SystemFixture.AdminKey)[..8]}", session.GetProperty("actor").GetString());
        Assert.True(session.GetProperty("csrfToken").GetString()!.Length >= 32);
        var expires = session.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromHours(7.9), TimeSpan.FromHours(8)); // fixed 8 h
    }

    [Fact]
    public async Task a_wrong_key_is_a_401_problem_and_a_missing_one_a_422_naming_the_field()
    {
        var wrong = await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = "nsadmin_wrong" }, expect: 401);
        Assert.Equal("A valid admin key is required.", (await SystemFixture.BodyOf(wrong)).GetProperty("title").GetString());
        Assert.Equal("", wrong.Context.Response.Headers.SetCookie.ToString());

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/console/session", null, new { key = "" });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("key", out _));
        var (noSession, _) = await System.SendForStatusAsync(HttpMethod.Get, "/console/session", null);
        Assert.Equal(401, noSession);
    }

    [Fact]
    public async Task wrong_keys_are_counted_with_the_other_refused_keys()
    {
        using var log = LogCapture.AttachTo(System.Core.Services);
        var rejected = System.Core.Services.GetRequiredService<RejectedKeys>();
        rejected.Flush(); // earlier tests' refusals go to their own summary
        log.Clear();
        Action<Scenario> from = s => s.ConfigureHttpContext(c => c.Connection.RemoteIpAddress = IPAddress.Parse("10.79.0.1"));
        await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = "nsadmin_guess-1" }, expect: 401, also: from);
        await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = "nsadmin_guess-2" }, expect: 401, also: from);
        rejected.Flush();
        var summary = Assert.Single(log.Lines, l => l.Category == typeof(RejectedKeys).FullName);
        Assert.Contains("console sign-in with an unknown key: 2", summary.Message);
        Assert.DoesNotContain("guess", summary.Text);
    }

    [Theory]
    [InlineData("""{"key":123}""")]
    [InlineData("""{"key":null}""")]
    [InlineData("""{"key":["nsadmin_test-key"]}""")]
    [InlineData("""{"key":"nsadmin_test-key","admin":true}""")]
    [InlineData("""{"key":"nsadmin_test-key\u0000"}""")]
    [InlineData("""{"key":"nsadmin_test-key""")]
    [InlineData("""[]""")]
    [InlineData("""null""")]
    public async Task a_malformed_sign_in_body_is_a_4xx_problem_and_opens_no_session(string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await System.Http.PostAsync("/console/session", content);
        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task a_key_of_a_thousand_characters_or_more_is_a_422_naming_it()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/console/session", null, new { key = new string('k', 1001) });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("key", out _));
    }

    [Fact]
    public async Task the_cookie_reads_the_admin_api_and_changes_need_the_csrf_token()
    {
        var (token, csrf) = await SignInAsync();
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 200, also: WithCookie(token));
        // The cookie is an admin's, not a service's.
        await System.ScenarioAsync(HttpMethod.Get, "/v1/jobs", null, expect: 403, also: WithCookie(token));

        var name = $"console-{Guid.NewGuid():N}";
        var without = await System.ScenarioAsync(HttpMethod.Post, "/admin/services", null, new { name }, expect: 403, also: WithCookie(token));
        Assert.Equal("The CSRF token is missing or wrong.", (await SystemFixture.BodyOf(without)).GetProperty("title").GetString());
        await System.ScenarioAsync(HttpMethod.Post, "/admin/services", null, new { name }, expect: 403, also: WithCookie(token, csrf + "x"));
        var services = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/services?pageSize=100", SystemFixture.AdminKey, expect: 200);
        Assert.DoesNotContain(services.EnumerateArray(), s => s.GetProperty("name").GetString() == name);

        var created = await SystemFixture.BodyOf(await System.ScenarioAsync(HttpMethod.Post, "/admin/services", null, new { name }, expect: 201, also: WithCookie(token, csrf)));
        var id = created.GetProperty("id").GetGuid();
        // The admin history names the admin by the key's fingerprint, as with the key itself.
        var history = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{id}/history", SystemFixture.AdminKey, expect: 200);
        Assert.Equal($"admin:{ApiKeys.Hash(SystemFixture.AdminKey)[..8]}", history[0].GetProperty("data").GetProperty("by").GetString());
    }

    [Fact]
    public async Task patch_and_delete_by_cookie_need_the_csrf_token_too()
    {
        var (token, csrf) = await SignInAsync();
        var tenant = await System.CreateTenantAsync($"csrf-{Guid.NewGuid():N}"[..20]);
        var adapter = await System.CreateEmailAdapterAsync($"csrf-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var renamed = $"renamed-{Guid.NewGuid():N}"[..20];

        var patch = await System.ScenarioAsync(HttpMethod.Patch, $"/admin/services/{tenant.Id}", null, new { name = renamed }, expect: 403, also: WithCookie(token));
        Assert.Equal("The CSRF token is missing or wrong.", (await SystemFixture.BodyOf(patch)).GetProperty("title").GetString());
        await System.ScenarioAsync(HttpMethod.Delete, $"/admin/adapters/{adapter.Id}", null, expect: 403, also: WithCookie(token));
        await System.ScenarioAsync(HttpMethod.Delete, $"/admin/adapters/{adapter.Id}", null, expect: 403, also: WithCookie(token, csrf[..^1]));
        // Nothing changed.
        var service = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(tenant.Name, service.GetProperty("name").GetString());
        await System.ScenarioAsync(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey, expect: 200);

        // With the token both go through: the 403s were the token's, not the cookie's.
        await System.ScenarioAsync(HttpMethod.Patch, $"/admin/services/{tenant.Id}", null, new { name = renamed }, expect: 200, also: WithCookie(token, csrf));
        var deleted = await System.ScenarioAsync(HttpMethod.Delete, $"/admin/adapters/{adapter.Id}", null, also: WithCookie(token, csrf));
        Assert.InRange(deleted.Context.Response.StatusCode, 200, 299);
        await System.ScenarioAsync(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey, expect: 404);
    }

    [Fact]
    public async Task a_session_past_its_end_opens_nothing()
    {
        var (token, _) = await SignInAsync();
        var store = System.Core.Services.GetRequiredService<IDocumentStore>();
        ConsoleSession stored;
        await using (var query = store.QuerySession())
            stored = (await query.LoadAsync<ConsoleSession>(ConsoleSession.IdOf(token)))!;

        // The rule at its edge, with a clock the test sets: valid until the instant it ends.
        ConsoleSessions At(DateTimeOffset now) => new(store, System.Core.Services.GetRequiredService<AdminKeys>(), new FixedClock(now),
            System.Core.Services.GetRequiredService<IConfiguration>());
        Assert.Null(At(stored.ExpiresAt.AddSeconds(-1)).Refusal(stored));
        Assert.Equal("Unknown or expired console session.", At(stored.ExpiresAt).Refusal(stored));

        // Through the API: once its end has passed, the cookie opens neither the admin API nor the console.
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 200, also: WithCookie(token));
        stored.ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(-1);
        await using (var write = store.LightweightSession())
        {
            write.Store(stored);
            await write.SaveChangesAsync();
        }
        var refused = await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 401, also: WithCookie(token));
        Assert.Equal("A valid API key is required.", (await SystemFixture.BodyOf(refused)).GetProperty("title").GetString());
        await System.ScenarioAsync(HttpMethod.Get, "/console/session", null, expect: 401, also: WithCookie(token));
    }

    [Fact]
    public async Task a_bearer_key_wins_over_a_refused_cookie_beside_it()
    {
        var (token, csrf) = await SignInAsync();
        await System.ScenarioAsync(HttpMethod.Delete, "/console/session", null, expect: 204, also: WithCookie(token, csrf));
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 401, also: WithCookie(token)); // refused alone

        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200, also: WithCookie(token));
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200, also: WithCookie("not-a-session"));
        // A change with the key needs no CSRF token, whatever cookie comes along: a browser never adds the header by itself.
        await System.ScenarioAsync(HttpMethod.Post, "/admin/services", SystemFixture.AdminKey, new { name = $"bearer-{Guid.NewGuid():N}"[..20] },
            expect: 201, also: WithCookie(token));
        // And a wrong key is not rescued by a cookie.
        var (live, _) = await SignInAsync();
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", "nsadmin_wrong", expect: 401, also: WithCookie(live));
    }

    [Fact]
    public async Task a_sign_in_body_that_is_not_json_is_a_415_and_opens_no_session()
    {
        using var content = new StringContent($$"""{"key":"{{SystemFixture.AdminKey}}"}""", Encoding.UTF8, "text/plain");
        using var response = await System.Http.PostAsync("/console/session", content);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task signing_out_deletes_the_session_so_the_cookie_opens_nothing()
    {
        var (token, csrf) = await SignInAsync();
        await System.ScenarioAsync(HttpMethod.Delete, "/console/session", null, expect: 403, also: WithCookie(token));
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 200, also: WithCookie(token));

        var signOut = await System.ScenarioAsync(HttpMethod.Delete, "/console/session", null, expect: 204, also: WithCookie(token, csrf));
        Assert.Contains("ns_console=;", signOut.Context.Response.Headers.SetCookie.ToString());
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 401, also: WithCookie(token));
        await System.ScenarioAsync(HttpMethod.Get, "/console/session", null, expect: 401, also: WithCookie(token));
    }

    [Fact]
    public async Task a_session_works_on_another_core_and_dies_where_its_key_is_not_configured()
    {
        // A short-lived second core with one more admin key than this one: as if that key was removed from this core's configuration.
        const string OtherCoresKey = "nsadmin_other-core-only-key";
        await using var other = await System.StartExtraCoreAsync(("Admin:ApiKeys:9", OtherCoresKey));
        async Task<string> SignInThereAsync(string key)
        {
            var signIn = await other.Scenario(s => { s.Post.Json(new { key }).ToUrl("/console/session"); s.StatusCodeShouldBe(204); });
            return TokenOf(signIn.Context.Response.Headers.SetCookie.ToString());
        }

        var shared = await SignInThereAsync(SystemFixture.AdminKey);
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 200, also: WithCookie(shared));

        var retired = await SignInThereAsync(OtherCoresKey);
        var refused = await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 401, also: WithCookie(retired));
        Assert.Equal("A valid API key is required.", (await SystemFixture.BodyOf(refused)).GetProperty("title").GetString());
        await System.ScenarioAsync(HttpMethod.Get, "/console/session", null, expect: 401, also: WithCookie(retired));
        await other.Scenario(s => { s.Get.Url("/admin/services"); WithCookie(retired)(s); s.StatusCodeShouldBe(200); });
    }

    [Fact]
    public async Task repeated_wrong_keys_from_one_address_are_throttled_even_for_the_right_key()
    {
        var address = IPAddress.Parse($"10.77.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}");
        Action<Scenario> from = s => s.ConfigureHttpContext(c => c.Connection.RemoteIpAddress = address);
        for (var i = 0; i < 10; i++)
            await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = $"nsadmin_guess-{i}" }, expect: 401, also: from);

        var throttled = await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = SystemFixture.AdminKey }, expect: 429, also: from);
        Assert.InRange(int.Parse(throttled.Context.Response.Headers.RetryAfter.ToString()), 1, 60);
        Assert.Equal("", throttled.Context.Response.Headers.SetCookie.ToString());
        // Another address is not held up by this one's guesses.
        await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = SystemFixture.AdminKey }, expect: 204,
            also: s => s.ConfigureHttpContext(c => c.Connection.RemoteIpAddress = IPAddress.Parse("10.78.0.1")));
    }

    [Fact]
    public async Task the_stored_session_names_the_key_by_its_fingerprint_only()
    {
        var (token, _) = await SignInAsync();
        var stored = await Sql.ScalarAsync<string>($"SELECT data::text FROM {NotificationStore.Schema}.mt_doc_consolesession WHERE id = '{ConsoleSession.IdOf(token)}'");
        Assert.Contains(AdminKeys.Fingerprint(SystemFixture.AdminKey), stored);
        Assert.DoesNotContain(ApiKeys.Hash(SystemFixture.AdminKey), stored);
    }

    [Fact]
    public async Task signing_in_again_with_a_session_cookie_ends_that_session()
    {
        var (first, _) = await SignInAsync();
        var again = await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = SystemFixture.AdminKey }, expect: 204, also: WithCookie(first));
        var second = TokenOf(again.Context.Response.Headers.SetCookie.ToString());
        Assert.NotEqual(first, second);
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 401, also: WithCookie(first));
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 200, also: WithCookie(second));
    }

    [Fact]
    public async Task over_https_the_cookie_is_secure_and_host_prefixed()
    {
        Action<Scenario> https = s => s.ConfigureHttpContext(c => c.Request.Scheme = "https");
        var signIn = await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = SystemFixture.AdminKey }, expect: 204, also: https);
        var setCookie = signIn.Context.Response.Headers.SetCookie.ToString();
        Assert.StartsWith("__Host-ns_console=", setCookie);
        Assert.Contains("secure", setCookie.ToLowerInvariant());
        var token = setCookie["__Host-ns_console=".Length..setCookie.IndexOf(';')];
        await System.ScenarioAsync(HttpMethod.Get, "/admin/services", null, expect: 200,
            also: s => { https(s); s.WithRequestHeader("Cookie", $"__Host-ns_console={token}"); });
    }

    [Theory]
    [InlineData(null, false, "ns_console", false)]
    [InlineData("auto", true, "__Host-ns_console", true)]
    [InlineData("always", false, "__Host-ns_console", true)]
    public void console_secure_cookie_auto_follows_the_request_and_always_is_always_secure(string? setting, bool https, string name, bool secure)
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Console:SecureCookie"] = setting }).Build();
        var sessions = new ConsoleSessions(null!, new AdminKeys(configuration), TimeProvider.System, configuration);
        var request = new Microsoft.AspNetCore.Http.DefaultHttpContext().Request;
        request.Scheme = https ? "https" : "http";
        Assert.Equal(name, sessions.CookieNameFor(request));
        Assert.Equal(secure, sessions.CookieOptions(request).Secure);
    }

    [Fact]
    public async Task wrong_bearer_keys_and_wrong_sign_ins_share_one_limit()
    {
        var address = IPAddress.Parse($"10.76.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}");
        Action<Scenario> from = s => s.ConfigureHttpContext(c => c.Connection.RemoteIpAddress = address);
        for (var i = 0; i < 5; i++)
        {
            await System.ScenarioAsync(HttpMethod.Get, "/admin/services", $"nsadmin_guess-{i}", expect: 401, also: from);
            await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = $"nsadmin_guess-{i}" }, expect: 401, also: from);
        }
        var bearer = await System.ScenarioAsync(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 429, also: from);
        Assert.InRange(int.Parse(bearer.Context.Response.Headers.RetryAfter.ToString()), 1, 60);
        await System.ScenarioAsync(HttpMethod.Post, "/console/session", null, new { key = SystemFixture.AdminKey }, expect: 429, also: from);
    }

    [Fact]
    public async Task a_parallel_burst_of_wrong_keys_gets_no_more_tries_than_the_limit()
    {
        var throttle = new AdminKeyThrottle(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), TimeProvider.System);
        var address = IPAddress.Parse("10.75.0.1");
        var allowed = 0;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => { if (throttle.TryAttempt(address) is null) Interlocked.Increment(ref allowed); })));
        Assert.Equal(10, allowed);
    }

    [Theory]
    [InlineData("/admin/services", true)]
    [InlineData("/admin/services", false)]
    [InlineData("/v1/jobs", true)]
    [InlineData("/console/session", false)]
    public async Task every_answer_carries_nosniff_not_only_the_consoles(string path, bool withKey)
    {
        var key = withKey ? (path.StartsWith("/admin") ? SystemFixture.AdminKey : System.Tenant.ApiKey) : null;
        var result = await System.ScenarioAsync(HttpMethod.Get, path, key);
        Assert.Equal("nosniff", result.Context.Response.Headers.XContentTypeOptions.ToString());
    }
}
