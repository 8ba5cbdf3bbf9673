using System.Text.Json;
using JasperFx.Events;
using Microsoft.Extensions.Configuration;
using NotificationService.Core.Callbacks;
using NotificationService.Core.Offers;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Callbacks;

/// <summary>The callback decisions that need no host: what is dispatched for a batch of events, the settings, the cursor.</summary>
public sealed class CallbackDecisionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private static IEvent Event<T>(T data, Guid streamId, long version) where T : notnull =>
        new Event<T>(data) { Id = Guid.NewGuid(), StreamId = streamId, Version = version, Timestamp = Now };

    private static CallbackEndpoint Callback(Guid serviceId, string url, params string[] events) =>
        new() { Id = Guid.NewGuid(), ServiceId = serviceId, Url = url, Events = [.. events], Enabled = true };

    [Fact]
    public void each_subscribed_event_goes_to_each_callback_of_the_jobs_service_and_the_queued_body_holds_no_metadata()
    {
        var (serviceId, other) = (Guid.NewGuid(), Guid.NewGuid());
        var job = new Job { Id = Guid.NewGuid(), OfferId = Guid.NewGuid(), ServiceId = serviceId, AdapterName = "email-main", Attempts = 1 };
        var offer = new Offer { Id = job.OfferId, ServiceId = serviceId, Metadata = new() { ["orderId"] = "A-17" } };
        var mine = Callback(serviceId, "https://a.test", "started", "failed");
        var all = Callback(serviceId, "https://b.test", [.. CallbackEvents.All]);
        (mine.CreatedAt, all.CreatedAt) = (Now.AddHours(-2), Now.AddHours(-1)); // the oldest first
        var theirs = Callback(other, "https://c.test", [.. CallbackEvents.All]);
        var started = Event(new JobStarted(job.Id, 1, "w", Now), job.Id, 2);
        var failed = Event(new JobFailed(job.Id, 1, "The SMTP server refused the message.", Now), job.Id, 3);
        var unknownJob = Event(new JobFinished(Guid.NewGuid(), 1, Now, null), Guid.NewGuid(), 2);

        var messages = CallbackSubscription.Dispatch([started, failed, unknownJob], new Dictionary<Guid, Job> { [job.Id] = job },
            new Dictionary<Guid, Offer> { [offer.Id] = offer }, new[] { mine, all, theirs }.ToLookup(c => c.ServiceId)).ToList();

        Assert.Equal(4, messages.Count);
        Assert.Equal([(mine.Id, mine.Url), (all.Id, all.Url), (mine.Id, mine.Url), (all.Id, all.Url)], messages.Select(m => (m.CallbackId, m.Url)));
        var body = JsonDocument.Parse(messages[2].Body).RootElement;
        Assert.Equal(failed.Id, body.GetProperty("id").GetGuid());
        Assert.Equal(failed.Id, messages[2].EventId);
        Assert.Equal("job.failed", body.GetProperty("type").GetString());
        Assert.Equal("Failed", body.GetProperty("state").GetString());
        Assert.Equal(3, body.GetProperty("sequence").GetInt64());
        Assert.Equal("The SMTP server refused the message.", body.GetProperty("error").GetString());
        // The sender puts in the offer's metadata at each attempt (CallbackMetadata); the queue never holds a copy.
        Assert.Equal(JsonValueKind.Null, body.GetProperty("metadata").ValueKind);
        Assert.Equal(job.OfferId, body.GetProperty("offerId").GetGuid());
    }

    /// <summary>H3: the override gets one POST per event, with the oldest enabled callback subscribed to that event.</summary>
    [Fact]
    public void an_offers_callback_url_gets_one_delivery_per_event_with_the_oldest_callback_subscribed_to_it()
    {
        var serviceId = Guid.NewGuid();
        var job = new Job { Id = Guid.NewGuid(), OfferId = Guid.NewGuid(), ServiceId = serviceId, AdapterName = "email-main", Attempts = 1 };
        var offer = new Offer { Id = job.OfferId, ServiceId = serviceId, CallbackUrl = "https://override.test/x" };
        var oldestFailedOnly = Callback(serviceId, "https://a.test", "failed");
        oldestFailedOnly.CreatedAt = Now.AddHours(-3);
        var newerAll = Callback(serviceId, "https://b.test", [.. CallbackEvents.All]);
        newerAll.CreatedAt = Now.AddHours(-2);
        var newestAll = Callback(serviceId, "https://c.test", [.. CallbackEvents.All]);
        newestAll.CreatedAt = Now.AddHours(-1);
        var started = Event(new JobStarted(job.Id, 1, "w", Now), job.Id, 2);
        var failed = Event(new JobFailed(job.Id, 1, "refused", Now), job.Id, 3);

        var messages = CallbackSubscription.Dispatch([started, failed], new Dictionary<Guid, Job> { [job.Id] = job },
            new Dictionary<Guid, Offer> { [offer.Id] = offer }, new[] { newestAll, oldestFailedOnly, newerAll }.ToLookup(c => c.ServiceId)).ToList();

        Assert.Equal([(started.Id, newerAll.Id), (failed.Id, oldestFailedOnly.Id)], messages.Select(m => (m.EventId, m.CallbackId)));
        Assert.All(messages, m => Assert.Equal("https://override.test/x", m.Url));
    }

    /// <summary>M3: a callback gets nothing that happened before it was registered (a catch-up after deployment, say).</summary>
    [Fact]
    public void events_older_than_the_callback_are_not_dispatched_to_it()
    {
        var serviceId = Guid.NewGuid();
        var job = new Job { Id = Guid.NewGuid(), OfferId = Guid.NewGuid(), ServiceId = serviceId, AdapterName = "sms" };
        var old = Callback(serviceId, "https://old.test", "finished");
        old.CreatedAt = Now.AddDays(-1);
        var registeredAfter = Callback(serviceId, "https://new.test", "finished");
        registeredAfter.CreatedAt = Now.AddSeconds(1);
        var finished = Event(new JobFinished(job.Id, 1, Now, null), job.Id, 3);

        var messages = CallbackSubscription.Dispatch([finished], new Dictionary<Guid, Job> { [job.Id] = job }, new Dictionary<Guid, Offer>(),
            new[] { old, registeredAfter }.ToLookup(c => c.ServiceId)).ToList();

        Assert.Equal([old.Id], messages.Select(m => m.CallbackId));
    }

    /// <summary>M5: the metadata sent is the offer's at send time; an erased offer's is null.</summary>
    [Fact]
    public void the_metadata_is_replaced_by_the_offers_current_metadata_when_sent()
    {
        var body = JsonSerializer.Serialize(new CallbackPayload(Guid.NewGuid(), "job.finished", Guid.NewGuid(), Guid.NewGuid(), "sms", "Finished", 1, 3, Now,
            null, new() { ["orderId"] = "A-17" }), CallbackSubscription.Json);
        var erased = JsonDocument.Parse(CallbackMetadata.With(System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject(), null)).RootElement;
        Assert.Equal(JsonValueKind.Null, erased.GetProperty("metadata").ValueKind);
        Assert.Equal(JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid(), erased.GetProperty("id").GetGuid());
        var changed = JsonDocument.Parse(CallbackMetadata.With(System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject(), new() { ["k"] = "v" })).RootElement;
        Assert.Equal("v", changed.GetProperty("metadata").GetProperty("k").GetString());
        Assert.False(changed.GetProperty("metadata").TryGetProperty("orderId", out _));
    }

    [Fact]
    public void without_an_override_the_callbacks_own_url_is_used_and_events_no_callback_wants_make_nothing()
    {
        var serviceId = Guid.NewGuid();
        var job = new Job { Id = Guid.NewGuid(), OfferId = Guid.NewGuid(), ServiceId = serviceId, AdapterName = "sms" };
        var callback = Callback(serviceId, "https://a.test/hook", "finished");
        var messages = CallbackSubscription.Dispatch(
            [Event(new JobStarted(job.Id, 1, "w", Now), job.Id, 2), Event(new JobFinished(job.Id, 1, Now, null), job.Id, 3), Event(new JobPossibleDuplicate(job.Id, 1, Now), job.Id, 4)],
            new Dictionary<Guid, Job> { [job.Id] = job }, new Dictionary<Guid, Offer>(), new[] { callback }.ToLookup(c => c.ServiceId)).ToList();

        var only = Assert.Single(messages);
        Assert.Equal("https://a.test/hook", only.Url);
        Assert.Equal("job.finished", only.EventType);
        Assert.Equal(1, only.Attempt);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(only.Body).RootElement.GetProperty("metadata").ValueKind);
    }

    [Fact]
    public void the_settings_have_defaults_and_a_bad_value_stops_the_start_naming_it()
    {
        var defaults = CallbackSettings.From(new ConfigurationBuilder().Build());
        Assert.Equal((10, TimeSpan.FromSeconds(10), false, 50, TimeSpan.FromHours(24)),
            (defaults.MaxPerService, defaults.Timeout, defaults.AllowPrivateNetwork, defaults.DisableAfterFailures, defaults.DisableAfterFailing));
        Assert.Equal([10, 60, 300, 1800, 7200, 21600], defaults.RetryDelays.Select(d => d.TotalSeconds));

        foreach (var (key, value) in new[]
                 {
                     ("Callbacks:MaxPerService", "0"), ("Callbacks:TimeoutSeconds", "NaN"), ("Callbacks:RetryDelaysSeconds", "10,-1"),
                     ("Callbacks:RetryDelaysSeconds", "10,abc"), ("Callbacks:DisableAfterFailures", "0"), ("Callbacks:Parallelism", "1000"),
                     ("Callbacks:MaxInFlightPerCallback", "0"), ("Callbacks:DisableAfterHours", "0"), ("Callbacks:Parallelism", "1"),
                     ("Callbacks:MaxInFlightPerService", "16"), ("Callbacks:MaxInFlightPerService", "0"),
                 })
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build();
            var error = Assert.Throws<InvalidOperationException>(() => CallbackSettings.From(configuration));
            Assert.Contains(key, error.Message);
        }
    }

    [Fact]
    public void the_error_a_tenant_sees_never_names_an_address()
    {
        var timeout = TimeSpan.FromSeconds(10);
        var refused = new OutboundRequestRefusedException("The host resolves to 10.1.2.3, a private address; set the adapter's config allowPrivateNetwork.");
        foreach (var e in new Exception[] { refused, new HttpRequestException("wrapped", refused) })
            Assert.Equal("The URL's host is a private, loopback or link-local address, which is refused.", CallbackSender.Classify(e, timeout));
        Assert.Equal("Connection refused or unreachable.",
            CallbackSender.Classify(new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (10.0.0.7:443)"), timeout));
        Assert.Equal("DNS lookup failed.", CallbackSender.Classify(new HttpRequestException(HttpRequestError.NameResolutionError, "internal.corp"), timeout));
        Assert.Equal("TLS failed.", CallbackSender.Classify(new HttpRequestException(HttpRequestError.SecureConnectionError, "10.0.0.7"), timeout));
        Assert.Equal("The request failed.", CallbackSender.Classify(new HttpRequestException("10.0.0.7 said no"), timeout));
        Assert.Equal("No answer within 10 s.", CallbackSender.Classify(new TaskCanceledException(), timeout));
    }

    [Fact]
    public async Task the_in_flight_cap_is_per_service_across_its_callbacks()
    {
        var inFlight = new CallbackInFlight();
        var (service, other) = (Guid.NewGuid(), Guid.NewGuid());
        for (var i = 0; i < 4; i++) Assert.True(await inFlight.TryEnterAsync(service, 4, Guid.NewGuid(), 4, default));
        Assert.False(await inFlight.TryEnterAsync(service, 4, Guid.NewGuid(), 4, default));
        Assert.True(await inFlight.TryEnterAsync(other, 4, Guid.NewGuid(), 4, default));
    }

    [Fact]
    public void a_deliveries_cursor_round_trips_and_anything_else_is_refused()
    {
        var at = DeliverCallbackHandler.Truncate(DateTimeOffset.UtcNow);
        var view = new CallbackDeliveryView(Guid.NewGuid(), Guid.NewGuid(), "job.finished", Guid.NewGuid(), "https://a.test", 1, at, 200, "delivered", null, 3, null);
        Assert.Equal((at, view.Id), GetCallbackDeliveriesEndpoint.Decode(GetCallbackDeliveriesEndpoint.Encode(view)));
        foreach (var bad in new[] { "garbage", "", "%%%", Convert.ToBase64String("1:2"u8.ToArray()), new string('a', 500) })
            Assert.Null(GetCallbackDeliveriesEndpoint.Decode(bad));
    }
}
