using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Alba;
using NotificationService.Core.Tests.Templates;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>
/// Inputs that once got a 500: strings PostgreSQL's jsonb cannot store, paging past the OFFSET range, the all-zero id,
/// JSON that is legal to a parser but ambiguous or misspelt. Each is a 4xx problem that names what to fix.
/// </summary>
public sealed class when_input_is_at_the_edges(SystemFixture system) : IntegrationContext(system)
{
    private string Offer(string @params, string extra = "") =>
        $"{{\"targets\":[{{\"adapter\":\"{System.Email.Name}\",\"params\":{@params}}}]{extra}}}";

    private const string Fine = "\"to\":\"a@example.test\",\"text\":\"t\"";

    public static TheoryData<string, string> UnstorableStrings => new()
    {
        { "{" + Fine + ",\"subject\":\"a\\u0000b\"}", "targets[0].params.subject" },
        { "{" + Fine + ",\"subject\":\"\\ud800\"}", "targets[0].params.subject" },
        { "{" + Fine + ",\"subject\":\"\\udc00x\\ud800\"}", "targets[0].params.subject" },
        { "{" + Fine + ",\"subject\":\"s\",\"a\\u0000b\":\"x\"}", "targets[0].params[\"a\\u0000b\"]" },
    };

    [Theory]
    [MemberData(nameof(UnstorableStrings))]
    public async Task a_string_jsonb_cannot_store_is_a_422_naming_its_path(string @params, string field)
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer(@params)));
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        await AssertNoOffersAsync();
    }

    [Theory]
    [InlineData("x\\u0000")]
    [InlineData("\\ud800")]
    public async Task an_unstorable_metadata_value_is_a_422_naming_the_entry(string value)
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"s\"}", ",\"metadata\":{\"note\":\"" + value + "\"}")));
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("metadata.note", out _), problem.ToString());
    }

    [Fact]
    public async Task raw_invalid_utf8_in_a_string_is_a_422_naming_its_path()
    {
        var body = Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"ab__\"}"));
        var at = Array.IndexOf(body, (byte)'_');
        body[at] = 0xff;
        body[at + 1] = 0xfe;
        var (status, problem) = await PostAsync("/v1/offers", body);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("targets[0].params.subject", out _), problem.ToString());
    }

    [Fact]
    public async Task a_duplicate_key_is_a_400_naming_it()
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"s\",\"subject\":\"t\"}")));
        Assert.Equal(400, status);
        Assert.Contains("targets[0].params.subject", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task an_unknown_field_is_a_400_naming_it_while_free_form_objects_take_any_key()
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"s\"}", ",\"send_at\":\"2030-01-01T00:00:00Z\"")));
        Assert.Equal(400, status);
        Assert.Contains("send_at", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("NotificationService", problem.ToString());

        var (accepted, _) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"s\"}", ",\"metadata\":{\"any_key\":\"v\"}")));
        Assert.Equal(202, accepted);
    }

    [Theory]
    [InlineData("{\"targets\":\"not-a-list\"}", "targets", "an array")]
    [InlineData("{\"targets\":[{\"adapter\":1,\"params\":{}}]}", "targets[0].adapter", "a string")]
    [InlineData("{\"targets\":[],\"sendAt\":\"tomorrow\"}", "sendAt", "a date-time")]
    [InlineData("{\"targets\":[],\"metadata\":{\"a\":{\"nested\":1}}}", "metadata.a", "a string")]
    [InlineData("{\"targets\":[],\"metadata\":[]}", "metadata", "an object")]
    public async Task a_wrongly_typed_field_is_named_in_json_terms_not_dotnet_types(string body, string field, string expected)
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(body));
        Assert.Equal(400, status);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains($"{field}: expected {expected}", detail);
        Assert.DoesNotContain("System.", problem.ToString());
        Assert.DoesNotContain("NotificationService.", problem.ToString());
    }

    [Theory]
    [InlineData("1e400")]
    [InlineData("-1e400")]
    [InlineData("9223372036854775808")]
    [InlineData("123456789012345678901234567890")]
    public async Task a_huge_number_in_params_is_not_a_500(string number)
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":" + number + "}")));
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("targets[0].params.subject", out _), problem.ToString());
    }

    [Theory]
    [InlineData("1e-16384")]
    [InlineData("1.5e-16383")]
    [InlineData("-1e-20000")]
    [InlineData("0.5E-16383")]
    [InlineData("1e-99999999999999999999")]
    [InlineData("0e-16384")]
    [InlineData("1.50e-16382")]
    public async Task a_number_with_more_digits_after_the_point_than_postgresql_keeps_is_a_422_not_a_500(string number)
    {
        // A finite double to .NET (1e-20000 reads as 0), so only its written form tells: jsonb refused it while binding
        // the offer's insert, a 500, and on an auto-prepared statement the failure that put the connection out of step.
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(WebhookOffer(await HookAsync(), number)));
        Assert.Equal(422, status);
        var errors = problem.GetProperty("errors").GetProperty("targets[0].params.payload.n");
        Assert.Contains("16383 digits after the decimal point", errors[0].GetString());
        await AssertNoOffersAsync();
    }

    [Theory]
    [InlineData("1e-16383")]
    [InlineData("1.5e-16382")]
    [InlineData("123.456e-16380")]
    [InlineData("1E+5")]
    [InlineData("-0.0e-0")]
    public async Task a_number_at_postgresql_s_last_digit_after_the_point_is_stored(string number)
    {
        var (status, body) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(WebhookOffer(await HookAsync(), number)));
        Assert.True(status == 202, body.ToString());
    }

    // 16,385 digits after the point as written, 16,383 once the exponent moves it: PostgreSQL stores it.
    [Fact]
    public Task a_long_fraction_that_its_exponent_brings_back_within_the_limit_is_stored() =>
        a_number_at_postgresql_s_last_digit_after_the_point_is_stored($"0.{new string('0', 16384)}1e+2");

    private string? _hook;
    private async Task<string> HookAsync() => _hook ??= (await System.CreateAdapterAsync($"edge-{Guid.NewGuid():N}"[..20], "webhook",
        new { url = "http://127.0.0.1:9/in", secret = "webhook-secret-0123456789" })).Name;

    private static string WebhookOffer(string adapter, string number) =>
        $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"payload\":{{\"n\":{number}}}}}}}]}}";

    [Fact]
    public async Task a_huge_number_or_array_index_in_template_data_is_not_a_500()
    {
        // Review 1 and 2: 1e30 is no decimal (Liquid's numbers), and the index is past int's range; both threw before.
        var key = TemplateApi.UniqueKey("huge");
        await System.CreateTemplateAsync(System.Tenant, key, "email", new Dictionary<string, object>
        {
            ["en"] = new { to = "a@example.test", subject = "{{ n }}", text = "t" },
            ["de"] = new { to = "a@example.test", subject = "{{ a[99999999999] }}", text = "t" },
        });
        foreach (var path in new[] { "/v1/offers", $"/v1/templates/{key}/preview" })
        {
            var data = "{\"n\":1e30,\"a\":[1]}";
            var body = path == "/v1/offers" ? $"{{\"targets\":[{{\"adapter\":\"{System.Email.Name}\",\"template\":\"{key}\",\"data\":{data}}}]}}" : $"{{\"data\":{data}}}";
            var (status, problem) = await PostAsync(path, Encoding.UTF8.GetBytes(body));
            Assert.Equal(422, status);
            var field = path == "/v1/offers" ? "targets[0].data" : "data";
            Assert.Contains("1e30", problem.GetProperty("errors").GetProperty(field)[0].GetString());
        }
        // The index alone: not found by the pass-through lookup (which threw), then Liquid's own indexer refuses it: a 422.
        var (status2, preview) = await PostAsync($"/v1/templates/{key}/preview", Encoding.UTF8.GetBytes("{\"locale\":\"de\",\"data\":{\"a\":[1]}}"));
        Assert.True(status2 == 422, preview.ToString());
        Assert.StartsWith("Rendering failed:", preview.GetProperty("errors").GetProperty("template.subject")[0].GetString());
    }

    [Fact]
    public async Task deep_json_is_a_400()
    {
        var deep = Offer("{" + Fine + ",\"subject\":\"s\",\"x\":" + new string('[', 2000) + new string(']', 2000) + "}");
        Assert.Equal(400, (await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(deep))).Status);
    }

    [Theory]
    [InlineData("0001-01-01T00:00:00Z", null)]
    [InlineData("9999-12-31T23:59:59Z", null)]
    [InlineData(null, "9999-12-31T23:59:59Z")]
    [InlineData(null, "0001-01-01T00:00:00Z")]
    [InlineData("9999-12-31T23:59:59.9999999+00:00", "9999-12-31T23:59:59.9999999+00:00")]
    public async Task dates_at_the_ends_of_the_calendar_are_a_4xx_or_accepted(string? sendAt, string? expireAt)
    {
        var extra = (sendAt is null ? "" : $",\"sendAt\":\"{sendAt}\"") + (expireAt is null ? "" : $",\"expireAt\":\"{expireAt}\"");
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"s\"}", extra)));
        Assert.True(status is 202 or 422, $"{status}: {problem}");
    }

    [Fact]
    public async Task a_send_time_at_the_end_of_the_calendar_with_an_adapter_ttl_is_accepted()
    {
        var adapter = await System.CreateAdapterAsync($"ttl-{Guid.NewGuid():N}", NotificationService.Contracts.AdapterTypes.EmailAdapterType.Name,
            new { host = "127.0.0.1", port = System.Smtp.Port, security = "none", from = "ns@example.test" }, new { defaultTtlSeconds = 1e300 });
        var body = $"{{\"targets\":[{{\"adapter\":\"{adapter.Name}\",\"params\":{{{Fine},\"subject\":\"s\"}}}}],\"sendAt\":\"9999-12-31T23:59:00Z\"}}";
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(body));
        Assert.True(status == 202, $"{status}: {problem}");
    }

    [Theory]
    [InlineData("/v1/offers?page=21474837&pageSize=200", "page")]
    [InlineData("/v1/offers?page=2147483647&pageSize=1", "page")]
    [InlineData("/v1/offers?page=9223372036854775807", "page")]
    [InlineData("/v1/offers?pageSize=-1", "pageSize")]
    [InlineData("/v1/offers?pageSize=2147483647", "pageSize")]
    [InlineData("/admin/jobs?page=2147483647&pageSize=100", "page")]
    [InlineData("/admin/jobs?page=0", "page")]
    [InlineData("/admin/jobs?page=1e400", "page")]
    [InlineData("/admin/jobs?adapter=a%00b", "adapter")]
    [InlineData("/v1/offers?page=1&x=%00", "x")]
    public async Task paging_beyond_its_bounds_is_a_4xx_naming_the_parameter(string url, string parameter)
    {
        var key = url.StartsWith("/admin") ? SystemFixture.AdminKey : System.Tenant.ApiKey;
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, url, key);
        Assert.InRange(status, 400, 422);
        Assert.Contains(parameter, problem.ToString());
    }

    // GET /admin/jobs reads its query as strings now (a bad value is a 422 naming it, Jobs/when_an_operator_reads_job_history.cs);
    // these endpoints still bind typed values.
    [Theory]
    [InlineData("/v1/offers?page=abc", "page", "an integer")]
    [InlineData("/admin/operations?kind=Nope", "kind", "one of \"Replay\"")]
    [InlineData("/admin/dead-letters?from=yesterday", "from", "a date-time")]
    public async Task an_unparseable_query_value_is_named_in_json_terms_not_dotnet_types(string url, string parameter, string expected)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, url, url.StartsWith("/admin") ? SystemFixture.AdminKey : System.Tenant.ApiKey);
        Assert.Equal(400, status);
        Assert.Contains($"{parameter}: expected {expected}", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("System.", problem.ToString());
        Assert.DoesNotContain("NotificationService.", problem.ToString());
    }

    [Theory]
    [InlineData("/admin/jobs?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z")]
    [InlineData("/admin/jobs?page=10737418&pageSize=200")]
    [InlineData("/admin/jobs/counts?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z")]
    public async Task paging_and_dates_within_bounds_are_answered(string url)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, url, SystemFixture.AdminKey);
        Assert.True(status == 200, $"{status}: {problem}");
    }

    public static TheoryData<string, string, bool> WriteEndpoints => new()
    {
        { "POST", "/v1/jobs/{0}/cancel", false },
        { "PATCH", "/v1/offers/{0}", false },
        { "DELETE", "/v1/offers/{0}", false },
        { "POST", "/v1/offers/{0}/erase", false },
        { "POST", "/admin/jobs/{0}/retry", true },
        { "PATCH", "/admin/services/{0}", true },
        { "POST", "/admin/services/{0}/block", true },
        { "POST", "/admin/services/{0}/unblock", true },
        { "POST", "/admin/services/{0}/keys", true },
        { "DELETE", "/admin/services/{0}/keys/{0}", true },
        { "PATCH", "/admin/adapters/{0}", true },
        { "POST", "/admin/adapters/{0}/block", true },
        { "POST", "/admin/adapters/{0}/unblock", true },
        { "DELETE", "/admin/adapters/{0}", true },
        { "DELETE", "/admin/invites/{0}", true },
        { "GET", "/admin/invites/{0}", true },
        { "GET", "/admin/jobs/{0}", true },
        { "GET", "/admin/services/{0}/limits", true },
        { "GET", "/v1/jobs/{0}", false },
        { "GET", "/v1/callbacks/{0}", false },
        { "GET", "/v1/callbacks/{0}/deliveries", false },
        { "DELETE", "/v1/callbacks/{0}", false },
        { "POST", "/v1/callbacks/{0}/enable", false },
        { "GET", "/admin/services/{0}/callbacks", true },
        { "DELETE", "/admin/services/{0}/callbacks/{0}", true },
        { "POST", "/admin/services/{0}/callbacks/{0}/enable", true },
    };

    [Theory]
    [MemberData(nameof(WriteEndpoints))]
    public async Task the_all_zero_id_is_a_404_like_any_missing_id(string method, string route, bool admin)
    {
        foreach (var id in new[] { Guid.Empty.ToString(), Guid.Empty.ToString("N"), Guid.Empty.ToString("B") })
        {
            var body = method == "PATCH" ? new { name = "x-renamed" } : null;
            var (status, problem) = await System.SendForStatusAsync(new HttpMethod(method), string.Format(route, id), admin ? SystemFixture.AdminKey : System.Tenant.ApiKey, body);
            Assert.True(404 == status, $"{method} {string.Format(route, id)}: {status} {problem}");
        }
    }

    [Theory]
    [InlineData("/v1/jobs/not-a-guid", false)]
    [InlineData("/v1/offers/00000000-0000-0000-0000-00000000000g", false)]
    [InlineData("/admin/services/%20", true)]
    [InlineData("/admin/adapters/1", true)]
    public async Task an_id_that_is_not_a_guid_is_a_404(string url, bool admin)
    {
        var (status, _) = await System.SendForStatusAsync(HttpMethod.Get, url, admin ? SystemFixture.AdminKey : System.Tenant.ApiKey);
        Assert.Equal(404, status);
    }

    [Fact]
    public async Task a_401_is_a_full_problem_with_a_bearer_challenge()
    {
        var response = await System.ScenarioAsync(HttpMethod.Get, "/v1/offers", key: null, expect: 401);
        Assert.Contains("Bearer", response.Context.Response.Headers.WWWAuthenticate.ToString());
        await AssertFullProblemAsync(response, 401);
    }

    [Fact]
    public async Task a_403_and_a_413_are_full_problems()
    {
        await AssertFullProblemAsync(await System.ScenarioAsync(HttpMethod.Get, "/admin/jobs", System.Tenant.ApiKey, expect: 403), 403);

        // Raw HTTP: a body of bytes past the limit, as a client's stream would send it.
        using var tooLarge = new HttpRequestMessage(HttpMethod.Post, "/v1/offers") { Content = new ByteArrayContent(new byte[1_100_000]) };
        tooLarge.Headers.Authorization = new AuthenticationHeaderValue("Bearer", System.Tenant.ApiKey);
        tooLarge.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var large = await System.Http.SendAsync(tooLarge);
        await AssertFullProblemAsync(large, 413);
    }

    private static async Task AssertFullProblemAsync(HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        AssertFullProblem(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, status);
    }

    private static async Task AssertFullProblemAsync(IScenarioResult response, int status)
    {
        Assert.Equal(status, response.Context.Response.StatusCode);
        Assert.Equal("application/problem+json", MediaTypeHeaderValue.Parse(response.Context.Response.ContentType!).MediaType);
        AssertFullProblem(await SystemFixture.BodyOf(response), status);
    }

    private static void AssertFullProblem(JsonElement problem, int status)
    {
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("type").GetString()), problem.ToString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()), problem.ToString());
    }

    /// <summary>Every content type the endpoint would read as JSON gets the same checks: none is a way around them.</summary>
    [Theory]
    [InlineData("application/merge-patch+json")]
    [InlineData("*/*")]
    [InlineData("text/json; charset=utf-8")]
    [InlineData("application/vnd.acme+json")]
    public async Task the_checks_hold_for_every_content_type_read_as_json(string contentType)
    {
        var (status, problem) = await PostAsync("/v1/offers", Encoding.UTF8.GetBytes(Offer("{" + Fine + ",\"subject\":\"a\\u0000b\"}")), contentType);
        // Either the endpoint does not read that type at all (415), or the body was checked like any other (422).
        Assert.Contains(status, new[] { 415, 422 });
        if (status == 422) Assert.True(problem.GetProperty("errors").TryGetProperty("targets[0].params.subject", out _), problem.ToString());
        await AssertNoOffersAsync();
    }

    /// <summary>Raw HTTP: these tests send exact bytes (invalid UTF-8, NULs, duplicate keys) under any content type, which Alba's JSON writer would normalise.</summary>
    private async Task<(int Status, JsonElement Problem)> PostAsync(string url, byte[] body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", System.Tenant.ApiKey);
        using var response = await System.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task AssertNoOffersAsync() =>
        Assert.Equal(0L, await NotificationService.Testing.Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_offer"));
}
