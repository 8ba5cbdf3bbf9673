using System.Text.Json;
using NotificationService.Core.Callbacks;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Callbacks;

public sealed class when_a_service_receives_status_callbacks(SystemFixture system) : IntegrationContext(system), IDisposable
{
    private readonly LogCapture _log = LogCapture.AttachTo(system.Core.Services);

    public void Dispose() => _log.Dispose();

    private Task<NotificationService.Core.Offers.OfferAccepted> SendAsync(string to, object? metadata = null, string? callbackUrl = null) =>
        System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, to) }, metadata, callbackUrl });

    [Fact]
    public async Task the_receiver_gets_started_and_finished_signed_with_the_offers_metadata_and_the_secret_is_never_shown_again()
    {
        await using var peer = await HttpPeer.StartAsync();
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl + "/hooks/ns");
        Assert.Equal(["started", "finished", "failed", "expired", "canceled"], callback.Events);
        Assert.StartsWith("nscb_", callback.Secret);

        var offer = await SendAsync("callback@example.test", new { orderId = "A-17" });
        var jobId = offer.Jobs[0].Id;
        var received = await peer.WaitForCallbacksAsync(callback.Secret, r => r.Count >= 2, "started and finished");

        Assert.Equal(["job.finished", "job.started"], received.Select(r => r.Type).Order());
        Assert.All(received, r =>
        {
            Assert.True(r.SignatureValid, $"signature of {r.Body}");
            Assert.Equal(r.Body.GetProperty("id").GetString(), r.EventId);
            Assert.Equal(jobId, r.JobId);
            Assert.Equal(offer.Id, r.Body.GetProperty("offerId").GetGuid());
            Assert.Equal(System.Email.Name, r.Body.GetProperty("adapter").GetString());
            Assert.Equal(1, r.Body.GetProperty("attempt").GetInt32());
            Assert.Equal("A-17", r.Body.GetProperty("metadata").GetProperty("orderId").GetString());
        });
        var finished = received.Single(r => r.Type == "job.finished");
        Assert.Equal("Finished", finished.Body.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, finished.Body.GetProperty("error").ValueKind);
        // The job's stream: JobQueued (1), JobStarted (2), JobFinished (3).
        Assert.Equal(3, finished.Body.GetProperty("sequence").GetInt64());
        Assert.All(peer.Requests, r => Assert.Equal("/hooks/ns", r.Path));

        var deliveries = await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id), p => p.Items.Count == 2, what: "two deliveries recorded");
        Assert.All(deliveries.Items, d => Assert.Equal(("delivered", 200, 1), (d.Outcome, d.StatusCode ?? 0, d.Attempt)));
        Assert.Null(deliveries.Next);

        foreach (var url in new[] { "/v1/callbacks", $"/v1/callbacks/{callback.Id}", $"/v1/callbacks/{callback.Id}/deliveries" })
            Assert.DoesNotContain(callback.Secret, (await System.SendForStatusAsync(HttpMethod.Get, url, System.Tenant.ApiKey)).Body.ToString());
        Assert.DoesNotContain(callback.Secret,
            (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/services/{System.Tenant.Id}/callbacks", SystemFixture.AdminKey)).Body.ToString());
        Assert.DoesNotContain(_log.Lines, l => l.Text.Contains(callback.Secret));
    }

    /// <summary>
    /// The offer's transaction fails inside PostgreSQL after its job streams were written (as in when_an_offer_cannot_be_committed):
    /// its events never committed, so no callback may report them. The next offer's callbacks prove the subscription got past.
    /// </summary>
    [Fact]
    public async Task no_callback_reports_an_event_whose_transaction_rolled_back()
    {
        await using var peer = await HttpPeer.StartAsync();
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, [.. Core.Callbacks.CallbackEvents.All]);
        await Sql.ExecuteAsync("""
            CREATE OR REPLACE FUNCTION ns.fail_callback_offer() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_callback_offer BEFORE INSERT ON ns.mt_doc_idempotentrequest
              FOR EACH ROW WHEN (NEW.id LIKE '%:rolled-back') EXECUTE FUNCTION ns.fail_callback_offer();
            """);
        try
        {
            await System.ScenarioAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
                new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "rolled@example.test") } }, expect: 500,
                also: s => s.WithRequestHeader("Idempotency-Key", "rolled-back"));
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER fail_callback_offer ON ns.mt_doc_idempotentrequest; DROP FUNCTION ns.fail_callback_offer();");
        }

        var offer = await SendAsync("committed@example.test");
        // All three, not just the last: deliveries run in parallel, so they may arrive in any order.
        var received = await peer.WaitForCallbacksAsync(callback.Secret, r => r.Select(c => c.Type).Distinct().Count() == 3, "the committed offer's callbacks");
        Assert.All(received, r => Assert.Equal(offer.Jobs[0].Id, r.JobId));
        Assert.Equal(["job.finished", "job.queued", "job.started"], received.Select(r => r.Type).Order());
    }

    [Fact]
    public async Task only_the_events_a_callback_subscribed_to_are_sent()
    {
        await using var peer = await HttpPeer.StartAsync();
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["queued", "finished"]);

        var offer = await SendAsync("filtered@example.test");
        await System.WaitForStateAsync(System.Tenant, offer.Jobs[0].Id, JobState.Finished);
        // Both: deliveries run in parallel, so 'queued' may arrive after 'finished' (README: Status callbacks).
        var received = await peer.WaitForCallbacksAsync(callback.Secret,
            r => r.Any(c => c.Type == "job.finished") && r.Any(c => c.Type == "job.queued"), "job.queued and job.finished");

        // The subscription publishes a stream's events in order, so a delivery for 'started' would have been published
        // before 'finished''s; as deliveries run in parallel it could still be on its way, so give it a moment to arrive.
        await Task.Delay(TimeSpan.FromSeconds(1));
        received = peer.Received(callback.Secret);
        Assert.Equal(["job.finished", "job.queued"], received.Select(r => r.Type).Order());
        Assert.Equal("Queued", received.Single(r => r.Type == "job.queued").Body.GetProperty("state").GetString());
    }

    [Fact]
    public async Task an_offers_callback_url_receives_its_events_instead_of_the_registered_url()
    {
        await using var registered = await HttpPeer.StartAsync();
        await using var overriding = await HttpPeer.StartAsync();
        var callback = await System.CreateCallbackAsync(System.Tenant, registered.BaseUrl, ["finished"]);
        // A newer callback subscribed to the same event: the override still gets one POST, with the oldest's secret.
        var newer = await System.CreateCallbackAsync(System.Tenant, registered.BaseUrl + "/newer", ["started", "finished"]);

        // Tracked until the two expected deliveries (finished with the oldest callback, started with the newer) were handled
        // and none still runs: a second POST of the same event would be dispatched with them, in the same session.
        await System.TrackAsync(() => SendAsync("override@example.test", callbackUrl: overriding.BaseUrl + "/this-offer"),
            new Handled<DeliverCallback>(m => m.CallbackId == callback.Id || m.CallbackId == newer.Id, count: 2));

        var finished = Assert.Single(overriding.Received(callback.Secret), r => r.Type == "job.finished");
        Assert.True(finished.SignatureValid);
        var started = Assert.Single(overriding.Received(newer.Secret), r => r.Type == "job.started"); // only the newer one wants it
        Assert.True(started.SignatureValid);
        Assert.Equal(2, overriding.Requests.Count);
        Assert.All(overriding.Requests, r => Assert.Equal("/this-offer", r.Path));
        Assert.Empty(registered.Requests);
        var delivery = (await System.GetDeliveriesAsync(System.Tenant, callback.Id)).Items.Single();
        Assert.Equal(overriding.BaseUrl + "/this-offer", delivery.Url);
        Assert.Equal(["job.started"], (await System.GetDeliveriesAsync(System.Tenant, newer.Id)).Items.Select(d => d.EventType));
    }

    [Fact]
    public async Task a_failed_delivery_is_retried_until_it_succeeds_and_every_attempt_is_visible_page_by_page()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.ReplyNextWith(new PeerReply(500, "{}"));
        peer.ReplyNextWith(new PeerReply(503, "{}"));
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["finished"]);

        await SendAsync("retried@example.test");
        var received = await peer.WaitForCallbacksAsync(callback.Secret, r => r.Count >= 3, "three attempts");
        Assert.Single(received.Select(r => r.EventId).Distinct()); // the same event each time, identifiable by its id

        var all = await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id), p => p.Items.Count == 3, what: "three attempts recorded");
        Assert.Equal([3, 2, 1], all.Items.Select(d => d.Attempt)); // newest first
        Assert.Equal(["delivered", "failed", "failed"], all.Items.Select(d => d.Outcome));
        Assert.Equal([200, 503, 500], all.Items.Select(d => d.StatusCode ?? 0));
        Assert.Equal("HTTP 500", all.Items[2].Error);
        Assert.NotNull(all.Items[2].NextAttemptAt);
        Assert.Equal(0, (await System.GetCallbackAsync(System.Tenant, callback.Id)).ConsecutiveFailures);

        var first = await System.GetDeliveriesAsync(System.Tenant, callback.Id, "?limit=2");
        Assert.Equal([3, 2], first.Items.Select(d => d.Attempt));
        var second = await System.GetDeliveriesAsync(System.Tenant, callback.Id, $"?limit=2&cursor={first.Next}");
        Assert.Equal([1], second.Items.Select(d => d.Attempt));
        Assert.Null(second.Next);
    }

    [Fact]
    public async Task a_receiver_that_keeps_failing_is_disabled_with_a_reason_and_can_be_enabled_again()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.Reply = _ => new PeerReply(503, "{}");
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl);

        // Two events, four attempts each (the tests' Callbacks:RetryDelaysSeconds has three delays): the bound of 5 is crossed.
        await SendAsync("failing@example.test");
        var disabled = await Eventually.Until(() => System.GetCallbackAsync(System.Tenant, callback.Id), c => !c.Enabled, what: "the callback to be disabled");
        Assert.Equal("5 consecutive failed attempts; the last: HTTP 503", disabled.DisabledReason);
        Assert.NotNull(disabled.DisabledAt);
        var skipped = await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id), p => p.Items.Any(d => d.Outcome == "skipped"),
            what: "a later attempt recorded as skipped");
        var attemptsWhileDisabled = peer.Requests.Count;
        Assert.True(attemptsWhileDisabled <= 5 + 4, $"{attemptsWhileDisabled} requests");

        var enabled = await System.SendAsync<CallbackState>(HttpMethod.Post, $"/v1/callbacks/{callback.Id}/enable", System.Tenant.ApiKey, expect: 200);
        Assert.True(enabled.Enabled);
        Assert.Null(enabled.DisabledReason);
        Assert.Equal(0, enabled.ConsecutiveFailures);
        peer.Reply = _ => new PeerReply(200, "{}");
        var offer = await SendAsync("recovered@example.test");
        await peer.WaitForCallbacksAsync(callback.Secret, r => r.Any(c => c.JobId == offer.Jobs[0].Id && c.Type == "job.finished"), "deliveries after re-enabling");
    }

    [Fact]
    public async Task a_callback_failing_for_longer_than_the_time_bound_is_disabled_at_its_next_failure()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.Reply = _ => new PeerReply(500, "{}");
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["finished"]);
        // One failure so far, but the run of failures began 25 hours ago (Callbacks:DisableAfterHours is 24 by default).
        await Sql.ExecuteAsync($"""
            UPDATE ns.mt_doc_callbackendpoint SET data = data || jsonb_build_object('consecutiveFailures', 1, 'failingSince', to_jsonb(now() - interval '25 hours'))
            WHERE id = '{callback.Id}'
            """);

        await SendAsync("long-failing@example.test");
        var disabled = await Eventually.Until(() => System.GetCallbackAsync(System.Tenant, callback.Id), c => !c.Enabled, what: "the callback to be disabled");
        Assert.Equal(2, disabled.ConsecutiveFailures);
        Assert.Equal("Failing for more than 24 h without a success; the last: HTTP 500", disabled.DisabledReason);
    }

    [Fact]
    public async Task a_hanging_receiver_of_one_tenant_does_not_delay_another_tenants_callbacks()
    {
        await using var hanging = await HttpPeer.StartAsync();
        await using var fast = await HttpPeer.StartAsync();
        var release = new TaskCompletionSource();
        hanging.BeforeReply = (_, ct) => release.Task.WaitAsync(ct);
        var slowTenant = await System.CreateTenantAsync($"slow-{Guid.NewGuid():N}"[..20]);
        await System.CreateCallbackAsync(slowTenant, hanging.BaseUrl);
        var callback = await System.CreateCallbackAsync(System.Tenant, fast.BaseUrl, ["finished"]);
        try
        {
            // 20 jobs: 40 events whose deliveries each hang until the 2 s timeout, more than the queue's parallelism (16).
            await System.CreateOfferAsync(slowTenant, new
            {
                targets = Enumerable.Range(0, 20).Select(i => ClientApi.EmailTarget(System.Email.Name, $"slow{i}@example.test")).ToArray(),
            });
            await Eventually.Until(() => hanging.Requests.Count >= 4, what: "the hanging receiver to hold its first requests");

            var offer = await SendAsync("fast@example.test");
            var finished = await System.WaitForStateAsync(System.Tenant, offer.Jobs[0].Id, JobState.Finished);
            await fast.WaitForCallbacksAsync(callback.Secret, r => r.Count >= 1, "the other tenant's callback");
            var delay = fast.Requests.Single().At - finished.FinishedAt!.Value;
            // The hanging tenant holds at most Callbacks:MaxInFlightPerCallback (4) of the 16 delivery slots.
            Assert.True(delay < TimeSpan.FromSeconds(5), $"the other tenant's callback came {delay.TotalSeconds:0.0} s after the job finished");
        }
        finally
        {
            release.TrySetResult();
        }
    }
}
