using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NotificationService.Core.Auth;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Logging;

/// <summary>
/// What the core's log shows an operator: client mistakes are not errors with stack traces, a flood of bad keys does not
/// grow it without bound, and data from a request stays out of it even when PostgreSQL puts it in an error.
/// </summary>
public sealed class when_an_operator_reads_the_log(SystemFixture system) : IntegrationContext(system), IDisposable
{
    private readonly LogCapture _log = LogCapture.AttachTo(system.Core.Services);

    public void Dispose() => _log.Dispose();

    [Fact]
    public async Task a_flood_of_bad_keys_is_summarised_not_logged_line_by_line()
    {
        FlushRejectedKeys(); // rejections of earlier tests belong to their own summary
        _log.Clear();
        var keys = new[] { "nss_forged", "nss_", "something-else", $"nss_{Guid.NewGuid():N}" };

        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var (status, _) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}", keys[i % keys.Length]);
            Assert.Equal(401, status);
        });
        var duringFlood = _log.Lines;
        FlushRejectedKeys();

        // At most one summary per interval (and maybe one from the background sweep) instead of one or more per request.
        Assert.True(duringFlood.Count <= 5, $"{duringFlood.Count} lines for 1000 bad keys:\n{string.Join("\n", duringFlood.Take(10))}");
        var summaries = _log.Lines.Where(l => l.Category == typeof(RejectedKeys).FullName).ToList();
        Assert.Equal(1000, summaries.Sum(l => Convert.ToInt64(l.State.Single(s => s.Key == "Count").Value)));
        Assert.All(summaries, l => Assert.Equal(LogLevel.Warning, l.Level));
    }

    [Fact]
    public async Task client_mistakes_are_not_logged_as_errors_or_with_stack_traces()
    {
        var tenant = System.Tenant.ApiKey;
        var answers = new List<int>
        {
            await SendAsync(HttpMethod.Post, "/v1/offers", tenant, "{\"targets\": [", "application/json"),              // broken JSON
            await SendAsync(HttpMethod.Post, "/v1/offers", tenant, "{\"targets\": 5}", "application/json"),             // wrong type
            await SendAsync(HttpMethod.Post, "/v1/offers", tenant, "{\"targets\": []}", "application/json"),            // invalid
            await SendAsync(HttpMethod.Post, "/v1/offers", tenant, "[1,2]", "application/json"),                        // not an object
            await SendAsync(HttpMethod.Post, "/v1/offers", tenant, "{}", "text/plain"),                                 // wrong media type
            await SendAsync(HttpMethod.Post, "/v1/offers", tenant, new string('x', 2 * 1024 * 1024), "application/json", chunked: true),
            await SendAsync(HttpMethod.Get, "/v1/offers?page=abc", tenant),
            await SendAsync(HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}", "nss_forged"),
            await SendAsync(HttpMethod.Get, $"/v1/jobs/{Guid.NewGuid()}", "Basic abc", raw: true),
            await SendAsync(HttpMethod.Get, "/admin/services", tenant),
        };
        FlushRejectedKeys();

        Assert.All(answers, status => Assert.InRange(status, 400, 499));
        var loud = _log.Lines.Where(l => l.Level >= LogLevel.Error || (l.Exception is not null && l.Level >= LogLevel.Information)).ToList();
        Assert.True(loud.Count == 0, $"answers {string.Join(",", answers)}; logged:\n{string.Join("\n", loud)}");
    }

    [Fact]
    public async Task a_database_error_that_quotes_the_request_keeps_the_request_out_of_the_log()
    {
        var marker = $"payload-{Guid.NewGuid():N}";
        // A failure PostgreSQL reports with the stored data in its message, as a check constraint, a trigger or a
        // conversion error (the JSON context line of 22P05) can.
        await Sql.ExecuteAsync($"""
            CREATE FUNCTION ns.fail_with_payload() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.data::text LIKE '%payload-%' THEN RAISE EXCEPTION 'refused offer %', NEW.data::text USING DETAIL = NEW.data::text; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER fail_with_payload BEFORE INSERT ON ns.mt_doc_offer FOR EACH ROW EXECUTE FUNCTION ns.fail_with_payload();
            """);
        try
        {
            var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
                new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "to@example.test", marker) }, metadata = new { note = marker } });

            Assert.Equal(500, status);
            Assert.DoesNotContain(marker, body.ToString());
            var errors = _log.Lines.Where(l => l.Level >= LogLevel.Error).ToList();
            Assert.NotEmpty(errors); // the failure itself is logged, for the operator to find by its trace id
            Assert.Contains(errors, l => l.Text.Contains("P0001") && l.Exception?.StackTrace is { Length: > 0 }); // code and stack kept
            var leaks = _log.Lines.Where(l => l.Text.Contains(marker)).ToList();
            Assert.True(leaks.Count == 0, $"the payload was logged:\n{string.Join("\n", leaks)}");
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER IF EXISTS fail_with_payload ON ns.mt_doc_offer; DROP FUNCTION IF EXISTS ns.fail_with_payload()");
        }
    }

    private void FlushRejectedKeys() => System.Core.Services.GetRequiredService<RejectedKeys>().Flush();

    private async Task<int> SendAsync(HttpMethod method, string url, string key, string? body = null, string? contentType = null,
        bool chunked = false, bool raw = false)
    {
        using var request = new HttpRequestMessage(method, url);
        // Raw HTTP on purpose: an Authorization header without its scheme and a chunked body, which the log must survive.
        if (raw) request.Headers.TryAddWithoutValidation("Authorization", key);
        else request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            request.Content = chunked ? new StreamContent(new MemoryStream(bytes)) : new ByteArrayContent(bytes);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType!);
            if (chunked) request.Headers.TransferEncodingChunked = true;
        }
        using var response = await System.Http.SendAsync(request);
        return (int)response.StatusCode;
    }
}
