using Microsoft.Extensions.DependencyInjection;
using NotificationService.Client;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Client;

/// <summary>
/// The client library's callback methods and CallbackSignature against the real core's status callbacks: a receiver (a
/// real HTTP server) verifies and parses what it gets exactly as the README tells a client service to.
/// </summary>
public sealed class when_a_service_follows_its_jobs_with_the_client(SystemFixture system) : IntegrationContext(system), IAsyncLifetime
{
    private HttpPeer _receiver = null!;
    private ServiceProvider _provider = null!;
    private NotificationClient _client = null!;
    private NotificationAdminClient _admin = null!;

    async Task IAsyncLifetime.InitializeAsync()
    {
        await System.ResetAsync();
        _receiver = await HttpPeer.StartAsync();
        var services = new ServiceCollection();
        services.AddNotificationClient(o => (o.BaseAddress, o.ApiKey) = (System.Core.Server.BaseAddress, System.Tenant.ApiKey))
            .ConfigurePrimaryHttpMessageHandler(() => System.Core.Server.CreateHandler());
        services.AddNotificationAdminClient(o => (o.BaseAddress, o.ApiKey) = (System.Core.Server.BaseAddress, SystemFixture.AdminKey))
            .ConfigurePrimaryHttpMessageHandler(() => System.Core.Server.CreateHandler());
        _provider = services.BuildServiceProvider();
        _client = _provider.GetRequiredService<NotificationClient>();
        _admin = _provider.GetRequiredService<NotificationAdminClient>();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task a_registered_callback_receives_signed_events_the_client_verifies()
    {
        var callback = await _client.CreateCallbackAsync(new CreateCallbackRequest(_receiver.BaseUrl + "/ns-events"));
        Assert.Equal(CallbackEvents.Default, callback.Events);
        Assert.False(string.IsNullOrEmpty(callback.Secret));
        Assert.Equal(callback.Id, Assert.Single(await _client.ListCallbacksAsync()).Id);

        var accepted = await _client.CreateOfferAsync(new CreateOfferRequest(
            [new OfferTarget(System.Email.Name, new { to = "followed@example.test", subject = "Hi", text = "Followed by callbacks" })])
        {
            Metadata = new Dictionary<string, string> { ["order"] = "77" },
        });
        var jobId = accepted.Jobs[0].Id;

        // Deliveries run in parallel, so the started event may arrive after the finished one (README: Status callbacks).
        await Eventually.Until(() => _receiver.Requests.Any(r => r.Body.Contains("job.finished")) && _receiver.Requests.Any(r => r.Body.Contains("job.started")),
            TimeSpan.FromSeconds(30), "the started and finished callbacks");
        var received = _receiver.Requests.ToList();
        Assert.All(received, r => Assert.True(
            CallbackSignature.Verify(r.Headers[CallbackSignature.HeaderName], r.Body, callback.Secret, CallbackSignature.DefaultTolerance), r.Body));
        Assert.All(received, r => Assert.False(CallbackSignature.Verify(r.Headers[CallbackSignature.HeaderName], r.Body, "whsec_wrong", CallbackSignature.DefaultTolerance)));

        var events = received.Select(r => (Request: r, Event: CallbackNotification.Parse(r.Body))).ToList();
        Assert.All(events, e => Assert.Equal(e.Request.Headers[CallbackSignature.EventIdHeaderName], e.Event.Id.ToString()));
        var finished = events.Select(e => e.Event).Single(e => e.Type == "job.finished");
        Assert.Equal(jobId, finished.JobId);
        Assert.Equal(accepted.Id, finished.OfferId);
        Assert.Equal(JobState.Finished, finished.State);
        Assert.Equal("77", finished.Metadata!["order"]);
        Assert.Contains(events, e => e.Event.Type == "job.started");

        // An attempt is recorded after its POST is answered, so the receiver can see an event before its delivery is recorded.
        await Eventually.Until(() => _client.ListCallbackDeliveriesAsync(callback.Id), page => page.Items.Count >= received.Count,
            TimeSpan.FromSeconds(30), "a recorded delivery for every callback received");
        var deliveries = await _client.ListCallbackDeliveriesAsync(callback.Id, limit: 1);
        Assert.Single(deliveries.Items);
        Assert.NotNull(deliveries.Next);
        var rest = await _client.ListCallbackDeliveriesAsync(callback.Id, cursor: deliveries.Next);
        Assert.All(deliveries.Items.Concat(rest.Items), d => Assert.Equal(CallbackOutcomes.Delivered, d.Outcome));
        Assert.Contains(deliveries.Items.Concat(rest.Items), d => d.EventId == finished.Id);

        await _client.DeleteCallbackAsync(callback.Id);
        var gone = await Assert.ThrowsAsync<NotificationApiException>(() => _client.GetCallbackAsync(callback.Id));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task an_offer_with_its_own_callback_url_sends_its_events_there()
    {
        var callback = await _client.CreateCallbackAsync(new CreateCallbackRequest(_receiver.BaseUrl + "/service-wide", [CallbackEvents.Finished]));

        await _client.CreateOfferAsync(new CreateOfferRequest(
            [new OfferTarget(System.Email.Name, new { to = "own-url@example.test", subject = "Hi", text = "Own callback URL" })])
        {
            CallbackUrl = _receiver.BaseUrl + "/this-offer",
        });

        await Eventually.Until(() => _receiver.Requests.Any(r => r.Body.Contains("job.finished")), TimeSpan.FromSeconds(30), "the finished callback");
        var request = Assert.Single(_receiver.Requests);
        Assert.Equal("/this-offer", request.Path);
        Assert.True(CallbackSignature.Verify(request.Headers[CallbackSignature.HeaderName], request.Body, callback.Secret, CallbackSignature.DefaultTolerance));
    }

    [Fact]
    public async Task a_bad_callback_url_names_the_field_and_the_admin_manages_a_services_callbacks()
    {
        var bad = await Assert.ThrowsAsync<NotificationApiException>(() => _client.CreateCallbackAsync(new CreateCallbackRequest("ftp://example.test/x")));
        Assert.Equal(422, bad.Status);
        Assert.Contains("url", bad.Errors.Keys);

        var created = await _admin.CreateServiceCallbackAsync(System.Tenant.Id,
            new CreateCallbackRequest(_receiver.BaseUrl + "/admin-made", [CallbackEvents.Finished, CallbackEvents.Failed]));
        Assert.Equal([CallbackEvents.Finished, CallbackEvents.Failed], created.Events);
        Assert.Equal(created.Id, Assert.Single(await _admin.ListServiceCallbacksAsync(System.Tenant.Id)).Id);
        Assert.True((await _admin.EnableServiceCallbackAsync(System.Tenant.Id, created.Id)).Enabled);
        Assert.True((await _client.EnableCallbackAsync(created.Id)).Enabled);
        await _admin.DeleteServiceCallbackAsync(System.Tenant.Id, created.Id);
        Assert.Empty(await _client.ListCallbacksAsync());
    }
}
