using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Callbacks;

/// <summary>
/// Isolation between tenants and robustness of delivery (review H1, H2, M1, M6 and H3's counting): the tests' settings
/// are Callbacks:TimeoutSeconds 2, RetryDelaysSeconds 0.5,0.5,0.5, DisableAfterFailures 5, Parallelism 16 and
/// MaxInFlightPerService 4 (the defaults).
/// </summary>
public sealed class when_callback_receivers_are_slow_or_failing(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>A receiver that answers 2xx just inside the timeout: never failing, so never disabled, but slow.</summary>
    private static async Task<HttpPeer> SlowPeerAsync()
    {
        var peer = await HttpPeer.StartAsync();
        peer.BeforeReply = (_, ct) => Task.Delay(TimeSpan.FromSeconds(1.8), ct);
        return peer;
    }

    private async Task<Tenant> SlowTenantWithJobsAsync(HttpPeer slow, int callbacks, int jobs)
    {
        var tenant = await System.CreateTenantAsync($"slow-{Guid.NewGuid():N}"[..20]);
        for (var i = 0; i < callbacks; i++) await System.CreateCallbackAsync(tenant, slow.BaseUrl + $"/{i}", ["queued", "started", "finished"]);
        await System.CreateOfferAsync(tenant, new
        {
            targets = Enumerable.Range(0, jobs).Select(i => ClientApi.EmailTarget(System.Email.Name, $"slow{i}@example.test")).ToArray(),
        });
        await Eventually.Until(() => slow.Requests.Count >= 4, what: "the slow receiver to get its first requests");
        return tenant;
    }

    private Task<Core.Offers.OfferAccepted> SendAsync(string to, DateTimeOffset? sendAt = null, string? callbackUrl = null) =>
        System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, to) }, sendAt, callbackUrl });

    [Fact]
    public async Task a_slow_receivers_backlog_delays_neither_another_tenants_scheduled_job_nor_its_callback()
    {
        await using var slow = await SlowPeerAsync();
        await using var fast = await HttpPeer.StartAsync();
        // 100 jobs: 300 deliveries to a receiver that takes 1.8 s each, far more than its slots can carry.
        await SlowTenantWithJobsAsync(slow, callbacks: 1, jobs: 100);
        var callback = await System.CreateCallbackAsync(System.Tenant, fast.BaseUrl, ["finished"]);

        var sendAt = DateTimeOffset.UtcNow.AddSeconds(1);
        var offer = await SendAsync("scheduled@example.test", sendAt);
        var finished = await System.WaitForStateAsync(System.Tenant, offer.Jobs[0].Id, JobState.Finished, TimeSpan.FromSeconds(30));
        // Scheduled messages are polled every 5 s (Wolverine's default); the slow tenant's waits are not among them.
        Assert.True(finished.FinishedAt!.Value - sendAt < TimeSpan.FromSeconds(7), $"the scheduled job finished {(finished.FinishedAt.Value - sendAt).TotalSeconds:0.0} s after its sendAt");
        await fast.WaitForCallbacksAsync(callback.Secret, r => r.Count >= 1, "the other tenant's callback");
        var delay = fast.Requests.Single().At - finished.FinishedAt.Value;
        Assert.True(delay < TimeSpan.FromSeconds(5), $"the other tenant's callback came {delay.TotalSeconds:0.0} s after the job finished");
        Assert.Equal(0, await Sql.ScalarAsync<long>("SELECT count(*) FROM wolverine.wolverine_incoming_envelopes WHERE message_type LIKE '%DeliverCallback%' AND status = 'Scheduled'"));
    }

    [Fact]
    public async Task four_callbacks_of_a_slow_tenant_leave_delivery_slots_for_another_tenant()
    {
        await using var slow = await SlowPeerAsync();
        await using var fast = await HttpPeer.StartAsync();
        // 4 callbacks x 4 per callback would be all 16 slots; the service's cap (4) keeps 12 for everyone else.
        await SlowTenantWithJobsAsync(slow, callbacks: 4, jobs: 50);
        var callback = await System.CreateCallbackAsync(System.Tenant, fast.BaseUrl, ["finished"]);

        var offer = await SendAsync("fast@example.test");
        var finished = await System.WaitForStateAsync(System.Tenant, offer.Jobs[0].Id, JobState.Finished);
        await fast.WaitForCallbacksAsync(callback.Secret, r => r.Count >= 1, "the other tenant's callback");
        var delay = fast.Requests.Single().At - finished.FinishedAt!.Value;
        Assert.True(delay < TimeSpan.FromSeconds(5), $"the other tenant's callback came {delay.TotalSeconds:0.0} s after the job finished");
        Assert.True(slow.IncompleteRequests <= 4, $"{slow.IncompleteRequests} requests in flight to the slow tenant");
    }

    /// <summary>PostgreSQL refuses to store the attempt 3 times (a serialization failure, as in a blip): retried, not dead-lettered.</summary>
    [Fact]
    public async Task a_database_error_while_recording_a_delivery_is_retried_and_never_dead_lettered()
    {
        await using var peer = await HttpPeer.StartAsync();
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["finished"]);
        var deadBefore = await DeadLetteredCallbacksAsync();
        await Sql.ExecuteAsync("""
            CREATE SEQUENCE ns.fail_delivery_count;
            CREATE OR REPLACE FUNCTION ns.fail_delivery() RETURNS trigger AS $$
            BEGIN
              IF nextval('ns.fail_delivery_count') <= 3 THEN RAISE EXCEPTION 'injected blip' USING ERRCODE = 'serialization_failure'; END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_delivery BEFORE INSERT ON ns.mt_doc_callbackdelivery FOR EACH ROW EXECUTE FUNCTION ns.fail_delivery();
            """);
        try
        {
            var offer = await SendAsync("blip@example.test");
            var deliveries = await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id), p => p.Items.Count >= 1,
                TimeSpan.FromSeconds(30), "the delivery to be recorded");
            Assert.Equal(("delivered", offer.Jobs[0].Id), (deliveries.Items.Single().Outcome, deliveries.Items.Single().JobId));
            Assert.True(await Sql.ScalarAsync<long>("SELECT last_value FROM ns.fail_delivery_count") >= 4);
            Assert.All(peer.Received(callback.Secret), r => Assert.Equal("job.finished", r.Type)); // the same event, sent again
            Assert.Equal(deadBefore, await DeadLetteredCallbacksAsync());
        }
        finally
        {
            await Sql.ExecuteAsync("""
                DROP TRIGGER fail_delivery ON ns.mt_doc_callbackdelivery; DROP FUNCTION ns.fail_delivery(); DROP SEQUENCE ns.fail_delivery_count;
                """);
        }
    }

    private static Task<long> DeadLetteredCallbacksAsync() =>
        Sql.ScalarAsync<long>("SELECT count(*) FROM wolverine.wolverine_dead_letters WHERE message_type LIKE '%DeliverCallback%'");

    [Fact]
    public async Task a_failed_connection_is_reported_to_the_tenant_without_the_address()
    {
        var callback = await System.CreateCallbackAsync(System.Tenant, "http://localhost:1/hook", ["finished"]);
        await SendAsync("refused@example.test");
        var delivery = (await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id), p => p.Items.Count >= 1,
            what: "the failed attempt to be recorded")).Items.Last();
        Assert.Equal("Connection refused or unreachable.", delivery.Error);
    }

    [Fact]
    public async Task a_receiver_that_never_answers_is_disabled_like_one_that_fails()
    {
        await using var peer = await HttpPeer.StartAsync();
        var release = new TaskCompletionSource();
        peer.BeforeReply = (_, ct) => release.Task.WaitAsync(ct);
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["finished"]);
        try
        {
            // Two events, four attempts each: the bound of 5 is crossed by timeouts alone.
            await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, "hang1@example.test"), ClientApi.EmailTarget(System.Email.Name, "hang2@example.test") },
            });
            var disabled = await Eventually.Until(() => System.GetCallbackAsync(System.Tenant, callback.Id), c => !c.Enabled,
                TimeSpan.FromSeconds(60), "the callback to be disabled");
            Assert.Equal("5 consecutive failed attempts; the last: No answer within 2 s.", disabled.DisabledReason);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task failures_of_an_offers_own_callback_url_do_not_count_against_the_registered_callback()
    {
        await using var registered = await HttpPeer.StartAsync();
        await using var overriding = await HttpPeer.StartAsync();
        overriding.Reply = _ => new PeerReply(503, "{}");
        var callback = await System.CreateCallbackAsync(System.Tenant, registered.BaseUrl, ["queued", "started", "finished"]);

        await SendAsync("override-failing@example.test", callbackUrl: overriding.BaseUrl);
        // Three events, four attempts each: 12 failures, more than DisableAfterFailures (5).
        var deliveries = await Eventually.Until(() => System.GetDeliveriesAsync(System.Tenant, callback.Id, "?limit=200"),
            p => p.Items.Count(d => d.Outcome == "gaveUp") == 3, TimeSpan.FromSeconds(30), "every attempt to the override to be made");
        Assert.True(deliveries.Items.Count(d => d.Outcome == "failed") >= 9);
        var state = await System.GetCallbackAsync(System.Tenant, callback.Id);
        Assert.True(state.Enabled, state.DisabledReason);
        Assert.Equal(0, state.ConsecutiveFailures);
    }
}
