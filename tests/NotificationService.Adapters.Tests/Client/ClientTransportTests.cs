using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NotificationService.Client;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Client;

/// <summary>
/// What the client puts on the wire and how it reads answers the core does not give on its own (a proxy's HTML page, a
/// Retry-After), against a real HTTP server that records each request. The client against the real core:
/// Core.Tests/Client.
/// </summary>
public sealed class ClientTransportTests : IAsyncLifetime
{
    private HttpPeer _peer = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync() => _peer = await HttpPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_services is not null) await _services.DisposeAsync();
        await _peer.DisposeAsync();
    }

    private T Client<T>(string path = "", string? key = "nss_test") where T : class
    {
        var services = new ServiceCollection();
        services.AddNotificationClient(o => (o.BaseAddress, o.ApiKey) = (new Uri(_peer.BaseUrl + path), key));
        services.AddNotificationAdminClient(o => (o.BaseAddress, o.ApiKey) = (new Uri(_peer.BaseUrl + path), "nsadmin_test"));
        _services = services.BuildServiceProvider();
        return _services.GetRequiredService<T>();
    }

    private static CreateOfferRequest Offer() => new([new OfferTarget("email-main", new { to = "a@example.test", subject = "Hi", text = "Hello" })]);

    private static string OfferAccepted => """{"id":"3f2b8a4e-1c5d-4e6f-8a9b-0c1d2e3f4a5b","jobs":[]}""";

    [Fact]
    public async Task every_create_offer_carries_an_idempotency_key_a_new_one_per_call_unless_given()
    {
        _peer.Reply = _ => new PeerReply(202, OfferAccepted);
        var client = Client<NotificationClient>();

        await client.CreateOfferAsync(Offer());
        await client.CreateOfferAsync(Offer());
        await client.CreateOfferAsync(Offer(), idempotencyKey: "order-42");

        var keys = _peer.Requests.Select(r => r.Headers.GetValueOrDefault("Idempotency-Key")).ToList();
        Assert.True(Guid.TryParse(keys[0], out _), keys[0]);
        Assert.True(Guid.TryParse(keys[1], out _), keys[1]);
        Assert.NotEqual(keys[0], keys[1]);
        Assert.Equal("order-42", keys[2]);
        Assert.All(_peer.Requests, r => Assert.Equal("Bearer nss_test", r.Headers["Authorization"]));
    }

    [Fact]
    public async Task the_request_body_is_the_servers_json_with_absent_fields_left_out()
    {
        _peer.Reply = _ => new PeerReply(202, OfferAccepted);
        await Client<NotificationClient>().CreateOfferAsync(Offer() with { Metadata = new Dictionary<string, string> { ["order"] = "42" } });

        var body = JsonDocument.Parse(_peer.Requests.Single().Body).RootElement;
        // The server refuses unknown fields, so a field it may not have yet (callbackUrl) must not be sent as null.
        Assert.Equal(["targets", "metadata"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("a@example.test", body.GetProperty("targets")[0].GetProperty("params").GetProperty("to").GetString());
    }

    [Fact]
    public async Task a_merge_patch_sends_what_was_set_and_null_for_what_was_reset()
    {
        _peer.Reply = _ => new PeerReply(200, """{"serviceId":"3f2b8a4e-1c5d-4e6f-8a9b-0c1d2e3f4a5b","own":{},"effective":{"offersPerSecond":1,"burst":20,"jobsPerOffer":1,"pendingJobs":1,"maxBodyBytes":1024,"maxParamsBytes":2}}""");
        await Client<NotificationAdminClient>().SetServiceLimitsAsync(Guid.NewGuid(), new ServiceLimitsPatch { Burst = 20, OffersPerSecond = null });

        Assert.Equal("""{"offersPerSecond":null,"burst":20}""", _peer.Requests.Single().Body);
    }

    [Fact]
    public async Task a_base_address_with_a_path_keeps_it_and_query_values_are_escaped()
    {
        _peer.Reply = _ => new PeerReply(200, """{"items":[],"next":null}""");
        var client = Client<NotificationClient>("/ns");

        await client.SearchJobsAsync(new JobSearch
        {
            State = JobState.Finished, CreatedFrom = new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.FromHours(1)),
            Metadata = new Dictionary<string, string> { ["order id"] = "a&b=c" }, Cursor = "abc+/=",
        });

        Assert.Equal("/ns/v1/jobs?state=Finished&createdFrom=2026-11-30T09%3A00%3A00.0000000%2B01%3A00&metadata.order%20id=a%26b%3Dc&cursor=abc%2B%2F%3D",
            _peer.Requests.Single().Path);
    }

    [Fact]
    public async Task an_error_page_that_is_not_a_problem_still_gives_its_status_and_text()
    {
        _peer.Reply = _ => new PeerReply(502, "<html><body>Bad gateway</body></html>");

        var error = await Assert.ThrowsAsync<NotificationApiException>(() => Client<NotificationClient>().GetJobAsync(Guid.NewGuid()));

        Assert.Equal(502, error.Status);
        Assert.Contains("Bad gateway", error.Body);
        Assert.Empty(error.Errors);
        Assert.Null(error.Problem);
    }

    [Fact]
    public async Task a_huge_error_page_is_kept_only_in_part()
    {
        _peer.Reply = _ => new PeerReply(503, "<html>" + new string('x', 1024 * 1024) + "</html>");

        var error = await Assert.ThrowsAsync<NotificationApiException>(() => Client<NotificationClient>().GetLimitsAsync());

        Assert.Equal(503, error.Status);
        Assert.Equal(NotificationApiException.MaxBodyChars, error.Body!.Length);
        Assert.StartsWith("<html>xxx", error.Body);
    }

    [Fact]
    public async Task a_rate_limit_answer_gives_the_limit_and_when_to_retry()
    {
        _peer.Reply = _ => new PeerReply(429,
            """{"type":"https://tools.ietf.org/html/rfc6585#section-4","title":"A limit of this service was reached.","status":429,"limit":"offersPerSecond","traceId":"00-abc-01"}""",
            new Dictionary<string, string> { ["Retry-After"] = "7" });

        var error = await Assert.ThrowsAsync<NotificationApiException>(() => Client<NotificationClient>().CreateOfferAsync(Offer()));

        Assert.Equal(429, error.Status);
        Assert.Equal(TimeSpan.FromSeconds(7), error.RetryAfter);
        Assert.Equal("offersPerSecond", error.Limit);
        Assert.Equal("00-abc-01", error.TraceId);
    }

    [Fact]
    public async Task registering_sends_no_key_and_a_204_reads_as_done()
    {
        _peer.ReplyNextWith(new PeerReply(201, """{"id":"3f2b8a4e-1c5d-4e6f-8a9b-0c1d2e3f4a5b","name":"n","keyId":"3f2b8a4e-1c5d-4e6f-8a9b-0c1d2e3f4a5b","apiKey":"nss_x"}"""));
        _peer.ReplyNextWith(new PeerReply(204, ""));
        var client = Client<NotificationClient>();

        await client.RegisterAsync("billing", "nsi_code");
        await client.DeleteCallbackAsync(Guid.NewGuid());

        var requests = _peer.Requests.ToList();
        Assert.False(requests[0].Headers.ContainsKey("Authorization"));
        Assert.Equal("DELETE", requests[1].Method);
    }

    [Fact]
    public void a_client_without_a_base_address_fails_when_resolved_naming_the_setting()
    {
        var services = new ServiceCollection();
        services.AddNotificationAdminClient(o => o.ApiKey = "nsadmin_test");
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<NotificationAdminClient>());
        Assert.Contains("BaseAddress", error.Message);
    }
}
