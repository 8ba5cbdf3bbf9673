using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Limits;
using NotificationService.Core.ServiceAdmin;
using NotificationService.Core.Services;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Limits;

public sealed class when_a_service_reaches_its_limits(SystemFixture system) : IntegrationContext(system)
{
    private sealed record Answer(int Status, JsonElement Body, int? RetryAfter);

    private async Task<Tenant> TenantWithLimitsAsync(string name, object limits)
    {
        var tenant = await System.CreateTenantAsync($"{name}-{Guid.NewGuid():N}");
        await System.SendAsync<ServiceLimitsView>(HttpMethod.Patch, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey, limits, expect: 200);
        return tenant;
    }

    /// <summary>An adapter no worker listens to: its jobs stay Queued, so they count as pending for as long as a test needs.</summary>
    private Task<RegisteredAdapter> IdleAdapterAsync() => System.CreateEmailAdapterAsync($"idle-{Guid.NewGuid():N}", 25);

    private static async Task<Answer> PostOfferAsync(IAlbaHost core, string key, object offer, string? idempotencyKey = null)
    {
        var response = await core.Scenario(s =>
        {
            s.Post.Json(offer).ToUrl("/v1/offers");
            s.WithRequestHeader("Authorization", $"Bearer {key}");
            if (idempotencyKey is not null) s.WithRequestHeader("Idempotency-Key", idempotencyKey);
            s.IgnoreStatusCode();
        });
        return new Answer(response.Context.Response.StatusCode, await SystemFixture.BodyOf(response),
            RetryConditionHeaderValue.TryParse(response.Context.Response.Headers.RetryAfter, out var retry) && retry.Delta is { } delta ? (int)delta.TotalSeconds : null);
    }

    private static object OneEmail(string adapter, string to) => new { targets = new[] { ClientApi.EmailTarget(adapter, to) } };

    private static Task<long> StoredAsync(Guid serviceId) => Sql.ScalarAsync<long>($"""
        SELECT (SELECT count(*) FROM ns.mt_doc_offer WHERE service_id = '{serviceId}')
             + (SELECT count(*) FROM ns.mt_doc_job WHERE data->>'serviceId' = '{serviceId}')
             + (SELECT count(*) FROM ns.mt_doc_idempotentrequest WHERE id LIKE '{serviceId}%')
        """);

    [Fact]
    public async Task an_offer_over_the_rate_gets_429_with_retry_after_and_nothing_is_stored_while_another_service_goes_on()
    {
        // One offer per 100 s, bursts of 2: the third offer in a row is over the rate.
        var tenant = await TenantWithLimitsAsync("rate", new { offersPerSecond = 0.01, burst = 2 });
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(System.Email.Name, "r1@example.test"))).Status);
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(System.Email.Name, "r2@example.test"))).Status);
        var storedBefore = await StoredAsync(tenant.Id);
        var outboxBefore = await Sql.ScalarAsync<long>("SELECT count(*) FROM wolverine.wolverine_outgoing_envelopes");

        var response = await System.ScenarioAsync(HttpMethod.Post, "/v1/offers", tenant.ApiKey, OneEmail(System.Email.Name, "r3@example.test"), expect: 429,
            s => s.WithRequestHeader("Idempotency-Key", "over-the-rate"));
        var problem = await SystemFixture.BodyOf(response);

        Assert.Equal("application/problem+json", MediaTypeHeaderValue.Parse(response.Context.Response.ContentType!).MediaType);
        Assert.Equal("offersPerSecond", problem.GetProperty("limit").GetString());
        // Nearly a whole token is missing at 0.01 per second: about 100 s.
        Assert.InRange(RetryConditionHeaderValue.Parse(response.Context.Response.Headers.RetryAfter!).Delta?.TotalSeconds ?? 0, 90, 100);
        Assert.Equal(storedBefore, await StoredAsync(tenant.Id));
        Assert.True(await Sql.ScalarAsync<long>("SELECT count(*) FROM wolverine.wolverine_outgoing_envelopes") <= outboxBefore, "no outbox row was added");

        // Another service, at the same moment, is not held back by this one's bucket.
        var other = await PostOfferAsync(System.Core, System.Tenant.ApiKey, OneEmail(System.Email.Name, "other@example.test"));
        Assert.Equal(202, other.Status);
    }

    [Fact]
    public async Task an_invalid_offer_or_an_idempotent_retry_takes_no_token()
    {
        var tenant = await TenantWithLimitsAsync("tokens", new { offersPerSecond = 0.01, burst = 1 });
        var invalid = await PostOfferAsync(System.Core, tenant.ApiKey, new { targets = Array.Empty<object>() });
        Assert.Equal(422, invalid.Status);

        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(System.Email.Name, "t@example.test"), idempotencyKey: "once")).Status);
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(System.Email.Name, "t@example.test"), idempotencyKey: "once")).Status);

        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(System.Email.Name, "t2@example.test"))).Status);
    }

    [Fact]
    public async Task jobs_per_offer_and_params_size_are_422_naming_the_field_and_nothing_is_stored()
    {
        var tenant = await TenantWithLimitsAsync("sizes", new { jobsPerOffer = 2, maxParamsBytes = 120 });
        var three = await PostOfferAsync(System.Core, tenant.ApiKey, new
        {
            targets = new[] { "a", "b", "c" }.Select(n => ClientApi.EmailTarget(System.Email.Name, $"{n}@example.test")).ToArray(),
        });
        Assert.Equal(422, three.Status);
        Assert.Contains("jobsPerOffer", three.Body.GetProperty("errors").GetProperty("targets")[0].GetString());

        var big = await PostOfferAsync(System.Core, tenant.ApiKey, new
        {
            targets = new[]
            {
                ClientApi.EmailTarget(System.Email.Name, "small@example.test"),
                ClientApi.EmailTarget(System.Email.Name, "big@example.test", text: new string('x', 200)),
            },
        });
        Assert.Equal(422, big.Status);
        var errors = big.Body.GetProperty("errors");
        Assert.Contains("maxParamsBytes", errors.GetProperty("targets[1].params")[0].GetString());
        Assert.False(errors.TryGetProperty("targets[0].params", out _));
        Assert.Equal(0, await StoredAsync(tenant.Id));

        // Two small targets fit; changing a job's params later is held to the same size.
        var two = await PostOfferAsync(System.Core, tenant.ApiKey, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "a@example.test"), ClientApi.EmailTarget(System.Email.Name, "b@example.test") },
            sendAt = DateTimeOffset.UtcNow.AddHours(1),
        });
        Assert.Equal(202, two.Status);
        var jobId = two.Body.GetProperty("jobs")[0].GetProperty("id").GetGuid();
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{two.Body.GetProperty("id").GetGuid()}", tenant.ApiKey,
            new { jobs = new[] { new { id = jobId, @params = new { to = "a@example.test", subject = "s", text = new string('y', 200) } } } });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("jobs[0].params", out _), problem.ToString());
    }

    [Fact]
    public async Task a_body_over_the_service_cap_gets_413_naming_the_limit()
    {
        var tenant = await TenantWithLimitsAsync("body", new { maxBodyBytes = 1024 });
        var offer = OneEmail(System.Email.Name, "long@example.test");
        var fits = await PostOfferAsync(System.Core, tenant.ApiKey, offer);
        Assert.Equal(202, fits.Status);

        var tooLong = await PostOfferAsync(System.Core, tenant.ApiKey, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "long@example.test", text: new string('x', 1100)) } });
        Assert.Equal(413, tooLong.Status);
        Assert.Equal("maxBodyBytes", tooLong.Body.GetProperty("limit").GetString());

        // The same body from a service with the default cap is fine.
        Assert.Equal(202, (await PostOfferAsync(System.Core, System.Tenant.ApiKey,
            new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "long@example.test", text: new string('x', 1100)) } })).Status);
    }

    /// <summary>
    /// Two core instances on one database, 40 offers of one job each posted at once, half to each, after a first one: the
    /// quota of 10 pending jobs admits exactly 10 in total, and every other offer gets 429 naming the limit with nothing stored.
    /// </summary>
    [Fact]
    public async Task the_pending_jobs_quota_holds_across_two_core_instances()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("quota", new { pendingJobs = 10 });
        await using var secondCore = await AlbaHost.For<Program>(b => b.UseSetting("Admin:ApiKeys:0", SystemFixture.AdminKey));
        var clients = new[] { System.Core, secondCore };
        // Both cores have read the tenant's key (and limits) before the race starts.
        foreach (var core in clients) await core.Scenario(s => { s.Get.Url("/v1/limits"); s.WithRequestHeader("Authorization", $"Bearer {tenant.ApiKey}"); });

        // One offer first, so the service has been counted and the race runs through the reservation's fast path.
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "first@example.test"))).Status);

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            PostOfferAsync(clients[i % 2], tenant.ApiKey, OneEmail(adapter.Name, $"q{i}@example.test"))));

        Assert.All(answers, a => Assert.True(a.Status is 202 or 429, $"{a.Status}: {a.Body}"));
        Assert.Equal(9, answers.Count(a => a.Status == 202));
        Assert.All(answers.Where(a => a.Status == 429), a =>
        {
            Assert.Equal("pendingJobs", a.Body.GetProperty("limit").GetString());
            Assert.Equal(LimitCounters.RecountSeconds, a.RetryAfter);
        });
        Assert.Equal(10L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_job WHERE data->>'serviceId' = '{tenant.Id}'"));
        Assert.Equal(10L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_offer WHERE service_id = '{tenant.Id}'"));

        // Two jobs end (as a worker would record it): their places free up once the service is counted again, which a
        // client retrying after Retry-After gets. An offer of three is still refused whole, though two of its jobs would fit.
        await Sql.ExecuteAsync($"UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{{state}}', '\"Finished\"'), state = 'Finished' WHERE id IN " +
                               $"(SELECT id FROM ns.mt_doc_job WHERE data->>'serviceId' = '{tenant.Id}' LIMIT 2)");
        var three = await PostOfferAsync(System.Core, tenant.ApiKey, new
        {
            targets = Enumerable.Range(0, 3).Select(i => ClientApi.EmailTarget(adapter.Name, $"m{i}@example.test")).ToArray(),
        });
        Assert.Equal(429, three.Status);
        var two = await Eventually.Until(() => PostOfferAsync(System.Core, tenant.ApiKey, new
        {
            targets = Enumerable.Range(0, 2).Select(i => ClientApi.EmailTarget(adapter.Name, $"m{i}@example.test")).ToArray(),
        }), a => a.Status != 429, TimeSpan.FromSeconds(5), "the freed places to be counted");
        Assert.Equal(202, two.Status);
        Assert.Equal(10L, await Sql.ScalarAsync<long>(
            $"SELECT count(*) FROM ns.mt_doc_job WHERE data->>'serviceId' = '{tenant.Id}' AND data->>'state' <> 'Finished'"));
    }

    /// <summary>
    /// An offer reserves its jobs before its transaction; when the transaction then fails (here a trigger refuses its
    /// idempotency record, after the offer and its jobs were written), the places come back at once.
    /// </summary>
    [Fact]
    public async Task an_offer_refused_for_the_quota_takes_no_token()
    {
        var adapter = await IdleAdapterAsync();
        // Two tokens, refilled once in 100 s: the first offer takes one; refusals for the quota must leave the other.
        var tenant = await TenantWithLimitsAsync("quota-token", new { offersPerSecond = 0.01, burst = 2, pendingJobs = 1 });
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "first@example.test"))).Status);

        foreach (var i in Enumerable.Range(0, 3))
        {
            var refused = await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"over{i}@example.test"));
            Assert.Equal((429, "pendingJobs"), (refused.Status, refused.Body.GetProperty("limit").GetString()));
        }
    }

    [Fact]
    public async Task an_offer_that_fails_to_commit_gives_its_places_back()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("release", new { pendingJobs = 1 });
        await Sql.ExecuteAsync("""
            CREATE OR REPLACE FUNCTION ns.fail_limits_commit() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_limits_commit BEFORE INSERT ON ns.mt_doc_idempotentrequest
              FOR EACH ROW WHEN (NEW.id LIKE '%:doomed-limits') EXECUTE FUNCTION ns.fail_limits_commit();
            """);
        try
        {
            Assert.Equal(500, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "doomed@example.test"), idempotencyKey: "doomed-limits")).Status);
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER fail_limits_commit ON ns.mt_doc_idempotentrequest; DROP FUNCTION ns.fail_limits_commit();");
        }
        Assert.Equal(0, await StoredAsync(tenant.Id));

        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "fine@example.test"))).Status);
        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "full@example.test"))).Status);
    }

    private static Task<long> ReservationsAsync(Guid serviceId) =>
        Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.pending_job_reservations WHERE service_id = '{serviceId}'");

    private static Task FinishOneJobAsync(Guid serviceId) => Sql.ExecuteAsync(
        $"UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{{state}}', '\"Finished\"'), state = 'Finished' WHERE id = " +
        $"(SELECT id FROM ns.mt_doc_job WHERE service_id = '{serviceId}' AND state = 'Queued' LIMIT 1)");

    /// <summary>
    /// The offer's transaction leaves its reservation in place (one statement fewer per offer): a stored offer claims it
    /// by existing, so a recount counts its jobs once, as jobs.
    /// </summary>
    [Fact]
    public async Task a_stored_offers_reservation_counts_once()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("claimed", new { pendingJobs = 3 });
        for (var i = 0; i < 3; i++)
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"c{i}@example.test"))).Status);
        Assert.Equal(3L, await ReservationsAsync(tenant.Id));
        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "full@example.test"))).Status);

        // One job ends: the next count finds exactly one place (3 reservations counted beside their 2 pending jobs would
        // find none).
        await FinishOneJobAsync(tenant.Id);
        var admitted = await Eventually.Until(() => PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "freed@example.test")),
            a => a.Status != 429, TimeSpan.FromSeconds(5), "the freed place to be counted");
        Assert.Equal(202, admitted.Status);
        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "full-again@example.test"))).Status);
    }

    /// <summary>Reservations whose offer is not stored: after every request has been answered, the leases still open.</summary>
    private static Task<long> OpenLeasesAsync(Guid serviceId) => Sql.ScalarAsync<long>(
        $"SELECT count(*) FROM ns.pending_job_reservations r WHERE service_id = '{serviceId}' AND NOT EXISTS (SELECT 1 FROM ns.mt_doc_offer o WHERE o.id = r.offer_id)");

    private sealed record LeaseSeen(int Posted, int Places, int Bound, double Tokens);

    /// <summary>
    /// Posts one-job offers one after the other until one of them took a lease (at most 50), then reads the lease's places,
    /// the service's bound and its bucket's tokens in one statement, unless the lease has already closed (then it goes on).
    /// </summary>
    private async Task<LeaseSeen> PostUntilLeasedAsync(Tenant tenant, string adapter)
    {
        for (var posted = 1; posted <= 50; posted++)
        {
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter, $"busy{posted}@example.test"))).Status);
            var seen = await Sql.ScalarAsync<string?>($"""
                SELECT r.jobs || ' ' || (SELECT bound FROM ns.pending_job_bounds WHERE service_id = r.service_id)
                              || ' ' || (SELECT tokens FROM ns.offer_rate_buckets WHERE service_id = r.service_id)
                FROM ns.pending_job_reservations r
                WHERE r.service_id = '{tenant.Id}' AND NOT EXISTS (SELECT 1 FROM ns.mt_doc_offer o WHERE o.id = r.offer_id)
                """);
            if (seen?.Split(' ') is [var places, var bound, var tokens])
                return new LeaseSeen(posted, int.Parse(places), int.Parse(bound), double.Parse(tokens, CultureInfo.InvariantCulture));
        }
        throw new Xunit.Sdk.XunitException("No offer took a lease in 50 offers posted back to back");
    }

    /// <summary>
    /// A busy service's offers take tokens and places from a lease of this core (one gate call for several offers), and
    /// the lease gives back exactly what it did not use when it closes: the bound ends equal to the jobs stored, and the
    /// bucket gets the unused tokens back.
    /// </summary>
    [Fact]
    public async Task a_busy_service_takes_tokens_and_places_in_leases_and_gets_back_what_it_did_not_use()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("leased", new { offersPerSecond = 100, burst = 1000, pendingJobs = 1000 });
        var seen = await PostUntilLeasedAsync(tenant, adapter.Name);

        // The lease holds places for more offers than the one that took it; the bound counts them all, each earlier offer
        // its own.
        Assert.True(seen.Places >= 2, $"a lease of {seen.Places} places");
        Assert.Equal(seen.Posted - 1 + seen.Places, seen.Bound);

        await Eventually.Until(() => OpenLeasesAsync(tenant.Id), n => n == 0, TimeSpan.FromSeconds(5), "the lease to close");
        Assert.Equal((long)seen.Posted, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_job WHERE service_id = '{tenant.Id}'"));
        Assert.Equal(seen.Posted, await Sql.ScalarAsync<int>($"SELECT bound FROM ns.pending_job_bounds WHERE service_id = '{tenant.Id}'"));
        // The offer that took the lease used one of its tokens; nothing else touched the bucket since.
        Assert.Equal(seen.Tokens + seen.Places - 1, await Sql.ScalarAsync<double>($"SELECT tokens FROM ns.offer_rate_buckets WHERE service_id = '{tenant.Id}'"), 6);
    }

    /// <summary>
    /// Leases on two cores never admit past the quota: 130 one-job offers, 20 at a time, half to each core, against a quota of
    /// 100 (leases of at most 5 places, a twentieth of it, and only while the bound stays within half of it). Once the
    /// leases have closed, the places they did not use are admitted again, up to exactly the quota.
    /// </summary>
    [Fact]
    public async Task leases_on_two_cores_never_admit_past_the_quota()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("leased-quota", new { pendingJobs = 100 });
        await using var secondCore = await System.StartExtraCoreAsync();
        var clients = new[] { System.Core, secondCore };
        foreach (var core in clients) await core.Scenario(s => { s.Get.Url("/v1/limits"); s.WithRequestHeader("Authorization", $"Bearer {tenant.ApiKey}"); });
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "first@example.test"))).Status);

        // 20 requests in flight at a time, ten on each core: each takes a connection or two, of the server's 300.
        using var inFlight = new SemaphoreSlim(20);
        var answers = await Task.WhenAll(Enumerable.Range(0, 130).Select(async i =>
        {
            await inFlight.WaitAsync();
            try { return await PostOfferAsync(clients[i % 2], tenant.ApiKey, OneEmail(adapter.Name, $"q{i}@example.test")); }
            finally { inFlight.Release(); }
        }));
        Assert.All(answers, a => Assert.True(a.Status is 202 or 429, $"{a.Status}: {a.Body}"));
        Assert.All(answers.Where(a => a.Status == 429), a => Assert.Equal("pendingJobs", a.Body.GetProperty("limit").GetString()));
        var stored = $"SELECT count(*) FROM ns.mt_doc_job WHERE service_id = '{tenant.Id}'";
        Assert.Equal(1 + answers.Count(a => a.Status == 202), await Sql.ScalarAsync<long>(stored));
        Assert.InRange(await Sql.ScalarAsync<long>(stored), 90, 100);

        await Eventually.Until(() => OpenLeasesAsync(tenant.Id), n => n == 0, TimeSpan.FromSeconds(5), "the leases to close");
        await Task.Delay(TimeSpan.FromSeconds(LimitCounters.RecountSeconds + 0.1));
        for (var i = 0; i < 20 && (await PostOfferAsync(clients[i % 2], tenant.ApiKey, OneEmail(adapter.Name, $"more{i}@example.test"))).Status == 202; i++) { }
        Assert.Equal(100L, await Sql.ScalarAsync<long>(stored));
        Assert.Equal(100L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_offer WHERE service_id = '{tenant.Id}'"));
    }

    /// <summary>
    /// Leases never admit past the rate: 200 offers, 20 at a time, against 20 offers/s with a burst of 100 (leases of at most 5
    /// offers, while half the burst stays in the bucket): at most the burst plus what the bucket refilled while they ran,
    /// and at least the burst less one lease's tokens, which may be out of the bucket when an offer is refused.
    /// </summary>
    [Fact]
    public async Task leases_never_admit_past_the_rate()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("leased-rate", new { offersPerSecond = 20, burst = 100 });
        await System.Core.Scenario(s => { s.Get.Url("/v1/limits"); s.WithRequestHeader("Authorization", $"Bearer {tenant.ApiKey}"); });
        var started = Stopwatch.StartNew();
        using var inFlight = new SemaphoreSlim(20);
        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            await inFlight.WaitAsync();
            try { return await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"rate{i}@example.test")); }
            finally { inFlight.Release(); }
        }));
        var seconds = started.Elapsed.TotalSeconds;

        Assert.All(answers, a => Assert.True(a.Status is 202 or 429, $"{a.Status}: {a.Body}"));
        Assert.All(answers.Where(a => a.Status == 429), a => Assert.Equal("offersPerSecond", a.Body.GetProperty("limit").GetString()));
        var admitted = answers.Count(a => a.Status == 202);
        Assert.InRange(admitted, 95, 100 + 20 * seconds + 1);
        Assert.Equal((long)admitted, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_offer WHERE service_id = '{tenant.Id}'"));
    }

    /// <summary>
    /// The bound only grows between counts, so past half the quota a busy service is refused leases; it is then counted
    /// again (at most every LeaseRecountSeconds), and once its jobs have ended its leases come back long before the bound
    /// would have reached the quota. Quota 40: leases of 2 places while the bound stays within 20.
    /// </summary>
    [Fact]
    public async Task a_service_refused_a_lease_is_counted_again_and_gets_leases_back_once_its_jobs_end()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("leased-recount", new { offersPerSecond = 100, burst = 1000, pendingJobs = 40 });
        for (var i = 0; i < 22; i++)
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"early{i}@example.test"))).Status);
        await Sql.ExecuteAsync($"UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{{state}}', '\"Finished\"'), state = 'Finished' WHERE service_id = '{tenant.Id}'");
        await Eventually.Until(() => OpenLeasesAsync(tenant.Id), n => n == 0, TimeSpan.FromSeconds(5), "the leases to close");
        Assert.True(await Sql.ScalarAsync<int>($"SELECT bound FROM ns.pending_job_bounds WHERE service_id = '{tenant.Id}'") > 20);
        await Task.Delay(TimeSpan.FromSeconds(LimitCounters.LeaseRecountSeconds + 0.5));

        var posted = 0;
        while (await OpenLeasesAsync(tenant.Id) == 0)
        {
            Assert.True(++posted <= 8, "no lease within 8 offers after the jobs ended");
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"later{posted}@example.test"))).Status);
            await Task.Delay(50); // the count runs in the background
        }
    }

    /// <summary>A lease is for the limits it was taken under: lowered by the admin, they apply to the very next offer.</summary>
    [Fact]
    public async Task a_lowered_limit_applies_to_the_next_offer_though_a_lease_is_open()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("leased-lowered", new { offersPerSecond = 100, burst = 1000, pendingJobs = 1000 });
        var posted = (await PostUntilLeasedAsync(tenant, adapter.Name)).Posted;

        await System.SendAsync<ServiceLimitsView>(HttpMethod.Patch, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey, new { pendingJobs = posted }, expect: 200);
        var refused = await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "over@example.test"));
        Assert.Equal((429, "pendingJobs"), (refused.Status, refused.Body.GetProperty("limit").GetString()));
        Assert.Equal((long)posted, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_doc_job WHERE service_id = '{tenant.Id}'"));
    }

    /// <summary>
    /// Every core's sweep deletes the reservations of stored offers in bulk (off in the shared test core, so the tests
    /// above see them), and leaves those of offers not stored yet.
    /// </summary>
    [Fact]
    public async Task the_sweep_clears_claimed_reservations_and_keeps_those_in_flight()
    {
        var adapter = await IdleAdapterAsync();
        // Below 4 offers/s no lease is taken (OfferLease.OffersFor), so each offer has a reservation of its own.
        var tenant = await TenantWithLimitsAsync("swept", new { offersPerSecond = 3, pendingJobs = 100 });
        for (var i = 0; i < 3; i++)
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"s{i}@example.test"))).Status);
        var inFlight = Guid.CreateVersion7();
        await Sql.ExecuteAsync($"INSERT INTO ns.pending_job_reservations (offer_id, service_id, jobs, reserved_at) VALUES ('{inFlight}', '{tenant.Id}', 1, clock_timestamp())");
        Assert.Equal(4L, await ReservationsAsync(tenant.Id));

        await using var sweepingCore = await AlbaHost.For<Program>(b =>
        {
            foreach (var (key, value) in SystemFixture.CoreSettings) b.UseSetting(key, value);
            b.UseSetting("Limits:ReservationSweepSeconds", "0.2");
        });
        await Eventually.Until(() => ReservationsAsync(tenant.Id), n => n == 1, TimeSpan.FromSeconds(10), "the claimed reservations to be swept");
        Assert.Equal(inFlight, await Sql.ScalarAsync<Guid>($"SELECT offer_id FROM ns.pending_job_reservations WHERE service_id = '{tenant.Id}'"));
    }

    /// <summary>
    /// A reservation whose offer is not stored (still in flight, or its core died) is counted until it is a minute old.
    /// </summary>
    [Fact]
    public async Task an_unstored_offers_reservation_counts_until_it_is_a_minute_old()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("in-flight", new { pendingJobs = 3 });
        for (var i = 0; i < 2; i++)
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, $"f{i}@example.test"))).Status);
        // An offer another core reserved for five seconds ago and has not committed yet.
        var inFlight = Guid.CreateVersion7();
        await Sql.ExecuteAsync($"INSERT INTO ns.pending_job_reservations (offer_id, service_id, jobs, reserved_at) VALUES ('{inFlight}', '{tenant.Id}', 1, clock_timestamp() - interval '5 seconds')");

        // The bound (which never saw that reservation) admits a third; the fourth makes the service count: 3 jobs + 1 in flight.
        Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "third@example.test"))).Status);
        await Task.Delay(TimeSpan.FromSeconds(LimitCounters.RecountSeconds + 0.1));
        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "over@example.test"))).Status);
        await FinishOneJobAsync(tenant.Id);
        await Task.Delay(TimeSpan.FromSeconds(LimitCounters.RecountSeconds + 0.1));
        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "still-over@example.test"))).Status);
        Assert.Equal(1L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.pending_job_reservations WHERE offer_id = '{inFlight}'"));

        // A minute old, it is abandoned: the next gate clears it and the next count gives its place back.
        await Sql.ExecuteAsync($"UPDATE ns.pending_job_reservations SET reserved_at = reserved_at - interval '1 minute' WHERE offer_id = '{inFlight}'");
        var admitted = await Eventually.Until(() => PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "freed@example.test")),
            a => a.Status != 429, TimeSpan.FromSeconds(5), "the abandoned place to be given back");
        Assert.Equal(202, admitted.Status);
        Assert.Equal(0L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.pending_job_reservations WHERE offer_id = '{inFlight}'"));
    }

    /// <summary>A release after the offer did commit (an answer other than 202 afterwards) gives back nothing.</summary>
    [Fact]
    public async Task a_release_after_the_commit_gives_nothing_back()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("late-release", new { pendingJobs = 1 });
        var stored = await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "stored@example.test"));
        Assert.Equal(202, stored.Status);
        var bound = $"SELECT bound FROM ns.pending_job_bounds WHERE service_id = '{tenant.Id}'";
        Assert.Equal(1, await Sql.ScalarAsync<int>(bound));

        await System.Core.Services.GetRequiredService<LimitCounters>().ReleaseAsync(stored.Body.GetProperty("id").GetGuid(), CancellationToken.None);

        Assert.Equal(1, await Sql.ScalarAsync<int>(bound));
        Assert.Equal(1L, await ReservationsAsync(tenant.Id));
        Assert.Equal(429, (await PostOfferAsync(System.Core, tenant.ApiKey, OneEmail(adapter.Name, "full@example.test"))).Status);
    }

    [Fact]
    public async Task the_admin_sets_and_resets_limits_and_every_change_is_in_the_history()
    {
        var tenant = await System.CreateTenantAsync($"admin-limits-{Guid.NewGuid():N}");
        var set = await System.SendAsync<ServiceLimitsView>(HttpMethod.Patch, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey,
            new { offersPerSecond = 5, burst = 10, pendingJobs = 50 }, expect: 200);
        Assert.Equal(new ServiceLimits(OffersPerSecond: 5, Burst: 10, PendingJobs: 50), set.Own);
        Assert.Equal(5, set.Effective.OffersPerSecond);
        Assert.Equal(100, set.Effective.JobsPerOffer); // the default

        var view = await System.SendAsync<ServiceView>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(set.Own, view.Limits);

        // null puts one limit back to its default; the others stay.
        var reset = await System.SendAsync<ServiceLimitsView>(HttpMethod.Patch, $"/admin/services/{tenant.Id}/limits", SystemFixture.AdminKey,
            JsonDocument.Parse("""{"offersPerSecond":null}""").RootElement, expect: 200);
        Assert.Equal(new ServiceLimits(Burst: 10, PendingJobs: 50), reset.Own);
        Assert.Equal(new LimitDefaults().OffersPerSecond, reset.Effective.OffersPerSecond);

        var limits = await System.SendAsync<LimitsView>(HttpMethod.Get, "/v1/limits", tenant.ApiKey, expect: 200);
        Assert.Equal(reset.Effective, limits.Limits);

        var history = await System.SendAsync<List<HistoryEntry>>(HttpMethod.Get, $"/admin/services/{tenant.Id}/history", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(2, history.Count(h => h.Type == "ServiceLimitsChanged"));
    }

    [Fact]
    public async Task bad_limits_get_problems_naming_the_field_and_only_admins_may_set_them()
    {
        var tenant = await System.CreateTenantAsync($"bad-limits-{Guid.NewGuid():N}");
        var url = $"/admin/services/{tenant.Id}/limits";
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Patch, url, SystemFixture.AdminKey, new { burst = "many" });
        Assert.Equal(400, status);
        Assert.StartsWith("burst:", problem.GetProperty("detail").GetString());

        (status, problem) = await System.SendForStatusAsync(HttpMethod.Patch, url, SystemFixture.AdminKey, new { burst = 0, maxBodyBytes = 2 * 1024 * 1024, offersPerSecond = -1 });
        Assert.Equal(422, status);
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "burst", "maxBodyBytes", "offersPerSecond" }) Assert.True(errors.TryGetProperty(field, out _), problem.ToString());

        (status, problem) = await System.SendForStatusAsync(HttpMethod.Patch, url, SystemFixture.AdminKey, new { offers_per_second = 1 });
        Assert.Equal(400, status);
        Assert.Contains("offers_per_second", problem.GetProperty("detail").GetString());

        foreach (var missing in new[] { Guid.NewGuid(), Guid.Empty })
            Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/services/{missing}/limits", SystemFixture.AdminKey, new { burst = 5 })).Status);
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Patch, url, tenant.ApiKey, new { burst = 5 })).Status);
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Get, "/v1/limits", SystemFixture.AdminKey)).Status);
        Assert.Null((await System.SendAsync<ServiceView>(HttpMethod.Get, $"/admin/services/{tenant.Id}", SystemFixture.AdminKey, expect: 200)).Limits.Burst);
    }

    [Fact]
    public async Task a_service_sees_its_limits_and_its_current_use()
    {
        var adapter = await IdleAdapterAsync();
        var tenant = await TenantWithLimitsAsync("use", new { offersPerSecond = 0.01, burst = 5, pendingJobs = 20 });
        for (var i = 0; i < 2; i++)
            Assert.Equal(202, (await PostOfferAsync(System.Core, tenant.ApiKey, new
            {
                targets = new[] { ClientApi.EmailTarget(adapter.Name, $"u{i}a@example.test"), ClientApi.EmailTarget(adapter.Name, $"u{i}b@example.test") },
            })).Status);

        var limits = await System.SendAsync<LimitsView>(HttpMethod.Get, "/v1/limits", tenant.ApiKey, expect: 200);
        Assert.Equal(new EffectiveLimits(0.01, 5, 100, 20, new LimitDefaults().MaxBodyBytes, new LimitDefaults().MaxParamsBytes), limits.Limits);
        Assert.InRange(limits.Use.OfferTokens, 3, 3.1);
        Assert.Equal(4, limits.Use.PendingJobs);
    }
}
