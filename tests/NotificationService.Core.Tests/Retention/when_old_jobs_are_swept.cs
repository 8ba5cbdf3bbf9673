using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Jobs;
using NotificationService.Core.Retention;
using NotificationService.Core.Tests.Storage;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Retention;

/// <summary>The defaults in force here: params 30 days after a job ended, ended jobs 365 days, idempotency records 7 days.</summary>
public sealed class when_old_jobs_are_swept(SystemFixture system) : IntegrationContext(system)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static SeedJob Email(string to) => new(new { to, subject = "Your order", text = "Hello " + to });

    [Fact]
    public async Task a_core_sweeps_on_its_own_schedule()
    {
        var due = await System.OfferAsync(System.Tenant, Now.AddDays(-41), Now.AddDays(-40), [Email("scheduled-sweep@example.test")]);
        // The fixture's core runs no sweep of its own (the other tests sweep as of the time they choose); this one does,
        // every half second, as a deployed core does every Retention:SweepSeconds.
        await using var sweepingCore = await AlbaHost.For<Program>(b => b
            .UseSetting("Admin:ApiKeys:0", SystemFixture.AdminKey)
            .UseSetting("Retention:SweepSeconds", "0.5"));

        await Eventually.Until(() => System.GetJobAsync(System.Tenant, due.JobIds[0]), job => job.Params.GetRawText() == """{"erased":true}""",
            what: "the scheduled sweep to erase the params");
        Assert.Equal(["""{"erased": true}"""], await Seed.StoredParamsAsync(due.JobIds[0]));
    }

    [Fact]
    public async Task params_are_erased_after_the_retention_and_old_offers_are_deleted_whole()
    {
        var erase = await System.OfferAsync(System.Tenant, Now.AddDays(-41), Now.AddDays(-40), [Email("a@example.test"), Email("b@example.test")],
            new() { ["customer"] = "Ann Example" });
        var young = await System.OfferAsync(System.Tenant, Now.AddDays(-11), Now.AddDays(-10), [Email("young@example.test")], new() { ["customer"] = "Y" });
        var old = await System.OfferAsync(System.Tenant, Now.AddDays(-400), Now.AddDays(-399), [Email("old1@example.test"), Email("old2@example.test")]);
        // One job of this old offer never ended: nothing of the offer is deleted, and its unended job keeps its params.
        var mixed = await System.OfferAsync(System.Tenant, Now.AddDays(-400), Now.AddDays(-399),
            [Email("ended@example.test"), Email("waiting@example.test") with { State = JobState.Queued }], new() { ["customer"] = "M" });
        await System.IdempotencyRecordAsync(System.Tenant, "old-key", Now.AddDays(-8));
        await System.IdempotencyRecordAsync(System.Tenant, "young-key", Now.AddDays(-6));
        var before = await System.GetJobAsync(System.Tenant, erase.JobIds[0]);

        var swept = await System.SweepAsync(Now);

        // Params: both jobs of the first offer, the ended job of the mixed one, and the old offer's two (erased, then deleted).
        Assert.Equal(new(ParamsErased: 5, OffersMetadataErased: 2, JobsDeleted: 2, OffersDeleted: 1, IdempotencyRecordsDeleted: 1), swept);

        // Erased: params in the document and in every stored event that carried them; state, times and attempts stay.
        var after = await System.GetJobAsync(System.Tenant, erase.JobIds[0]);
        Assert.Equal("""{"erased":true}""", after.Params.GetRawText());
        Assert.Equal(before with { Params = after.Params }, after);
        foreach (var jobId in erase.JobIds)
        {
            Assert.Equal(["""{"erased": true}"""], await Seed.StoredParamsAsync(jobId));
            var events = await System.GetJobEventsAsync(System.Tenant, jobId);
            Assert.Equal(["JobQueued", "JobStarted", "JobFinished", "JobParamsErased"], events.Select(e => e.Type));
            Assert.DoesNotContain("@example.test", JsonSerializer.Serialize(events, SystemFixture.Json));
        }
        var offer = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{erase.OfferId}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(JsonValueKind.Null, offer.GetProperty("metadata").ValueKind);

        // Young: untouched.
        Assert.Equal("young@example.test", (await System.GetJobAsync(System.Tenant, young.JobIds[0])).Params.GetProperty("to").GetString());
        Assert.Contains("young@example.test", (await Seed.StoredParamsAsync(young.JobIds[0])).Single());

        // Old and all ended: streams, events, Job documents and the Offer document are gone.
        foreach (var jobId in old.JobIds)
        {
            Assert.Equal(0, await Seed.CountAsync($"SELECT count(*) FROM ns.mt_events WHERE stream_id = '{jobId}'"));
            Assert.Equal(0, await Seed.CountAsync($"SELECT count(*) FROM ns.mt_streams WHERE id = '{jobId}'"));
            Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}", System.Tenant.ApiKey)).Status);
        }
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/offers/{old.OfferId}", System.Tenant.ApiKey)).Status);

        // Old but one job unended: all kept; the ended job's params erased, the waiting one's not, the offer's metadata kept.
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, mixed.JobIds[0])).State);
        Assert.Equal("""{"erased":true}""", (await System.GetJobAsync(System.Tenant, mixed.JobIds[0])).Params.GetRawText());
        var waiting = await System.GetJobAsync(System.Tenant, mixed.JobIds[1]);
        Assert.Equal((JobState.Queued, "waiting@example.test"), (waiting.State, waiting.Params.GetProperty("to").GetString()));
        var mixedOffer = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{mixed.OfferId}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal("M", mixedOffer.GetProperty("metadata").GetProperty("customer").GetString());

        Assert.Equal(["young-key"], await IdempotencyKeysAsync());

        // A second sweep finds nothing left to do.
        Assert.Equal(new(0, 0, 0, 0, 0), await System.SweepAsync(Now));
    }

    [Fact]
    public async Task a_service_with_its_own_retention_is_swept_by_it()
    {
        var tenant = await System.CreateTenantAsync($"retention-{Guid.NewGuid():N}");
        await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/admin/services/{tenant.Id}/retention", SystemFixture.AdminKey,
            new { paramsDays = 5, jobsDays = 20, idempotencyDays = 1 }, expect: 200);
        var erased = await System.OfferAsync(tenant, Now.AddDays(-11), Now.AddDays(-10), [Email("own@example.test")]);
        var deleted = await System.OfferAsync(tenant, Now.AddDays(-22), Now.AddDays(-21), [Email("gone@example.test")]);
        var kept = await System.OfferAsync(tenant, Now.AddDays(-4), Now.AddDays(-3), [Email("kept@example.test")]);
        // The same ages under the defaults (30/365): untouched.
        var other = await System.OfferAsync(System.Tenant, Now.AddDays(-22), Now.AddDays(-21), [Email("other@example.test")]);

        var swept = await System.SweepAsync(Now);

        // Params: the 10-day-old job's, and the 21-day-old one's before it is deleted.
        Assert.Equal((2, 1, 1), (swept!.ParamsErased, swept.JobsDeleted, swept.OffersDeleted));
        Assert.Equal("""{"erased":true}""", (await System.GetJobAsync(tenant, erased.JobIds[0])).Params.GetRawText());
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{deleted.JobIds[0]}", tenant.ApiKey)).Status);
        Assert.Equal("kept@example.test", (await System.GetJobAsync(tenant, kept.JobIds[0])).Params.GetProperty("to").GetString());
        Assert.Equal("other@example.test", (await System.GetJobAsync(System.Tenant, other.JobIds[0])).Params.GetProperty("to").GetString());
    }

    [Fact]
    public async Task sweeps_in_bounded_batches_and_two_cores_sweeping_at_once_erase_each_job_once()
    {
        // More old jobs than one batch (500), so the sweep commits several transactions.
        var offers = new List<(Guid OfferId, Guid[] JobIds)>();
        for (var i = 0; i < 6; i++)
            offers.Add(await System.OfferAsync(System.Tenant, Now.AddDays(-41), Now.AddDays(-40), Enumerable.Range(0, 100).Select(n => Email($"bulk{n}@example.test")).ToList()));

        // Two cores' sweeps at once: each batch takes the advisory lock; a sweep that misses it leaves the round to the other.
        var sweeps = await Task.WhenAll(System.SweepAsync(Now), System.SweepAsync(Now));
        var again = await System.SweepAsync(Now);

        Assert.Equal(600, sweeps.Sum(s => s?.ParamsErased ?? 0) + again!.ParamsErased);
        Assert.Equal(600, await Seed.CountAsync("SELECT count(*) FROM ns.mt_events WHERE type = 'job_params_erased'"));
        Assert.Equal(0, await Seed.CountAsync("SELECT count(*) FROM ns.mt_events WHERE type = 'job_queued' AND data->'params' <> '{\"erased\": true}'"));
        Assert.Equal(0, await Seed.CountAsync("SELECT count(*) FROM ns.mt_doc_job WHERE data->>'paramsErasedAt' IS NULL"));
    }

    [Fact]
    public async Task a_projection_rebuild_after_erasure_reproduces_the_erased_params()
    {
        var seeded = await System.OfferAsync(System.Tenant, Now.AddDays(-41), Now.AddDays(-40), [Email("rebuild@example.test")]);
        await System.SweepAsync(Now);
        var erased = await System.GetJobAsync(System.Tenant, seeded.JobIds[0]);
        // Damage the document, so only a replay of the (rewritten) events can give the erased state back.
        await Sql.ExecuteAsync("UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{params}', '{\"to\": \"damaged\"}') || '{\"paramsErasedAt\": null}'");

        await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/projections/rebuild", SystemFixture.AdminKey, expect: 200);

        var rebuilt = await System.GetJobAsync(System.Tenant, seeded.JobIds[0]);
        Assert.Equal("""{"erased":true}""", rebuilt.Params.GetRawText());
        Assert.Equal(erased with { Params = rebuilt.Params }, rebuilt);
        Assert.Equal(1, await Seed.CountAsync($"SELECT count(*) FROM ns.mt_doc_job WHERE id = '{seeded.JobIds[0]}' AND data->>'paramsErasedAt' IS NOT NULL"));
    }

    [Fact]
    public async Task an_erased_failed_job_loses_the_providers_detail_and_cannot_be_retried()
    {
        var seeded = await System.OfferAsync(System.Tenant, Now.AddDays(-41), Now.AddDays(-40), [Email("failed@example.test") with { State = JobState.Started }]);
        // Seeded Started; fail it the way a worker does, long ago.
        await using (var session = System.Core.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            session.Events.Append(seeded.JobIds[0], new JobFailed(seeded.JobIds[0], 1, "refused", Now.AddDays(-40), "550 <failed@example.test>: no such user"));
            await session.SaveChangesAsync();
        }
        Assert.Contains("failed@example.test", (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs/{seeded.JobIds[0]}", SystemFixture.AdminKey)).Body.GetRawText());
        await System.SweepAsync(Now);

        // The provider's answer quoted the recipient: gone from the admin view and from the stored events.
        var admin = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{seeded.JobIds[0]}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(JsonValueKind.Null, admin.GetProperty("lastErrorDetail").ValueKind);
        Assert.Equal("refused", admin.GetProperty("job").GetProperty("lastError").GetString());
        var events = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/jobs/{seeded.JobIds[0]}/events", SystemFixture.AdminKey, expect: 200);
        Assert.DoesNotContain("failed@example.test", events.GetRawText());
        Assert.Equal(0, await Seed.CountAsync($"SELECT count(*) FROM ns.mt_events WHERE stream_id = '{seeded.JobIds[0]}' AND data::text LIKE '%failed@example.test%'"));

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, $"/admin/jobs/{seeded.JobIds[0]}/retry", SystemFixture.AdminKey);

        Assert.Equal(409, status);
        Assert.Contains("erased", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task a_services_params_search_reads_only_that_services_jobs()
    {
        // On finished_at alone, a service with a short params retention walked the unerased jobs of every service with a
        // longer one: the range is the service's own, in the index that starts with it.
        var scans = await QueryPlans.ScansAsync(
            RetentionSweeper.ParamsDueSql.Replace("@service", "$1").Replace("@cutoff", "$2").Replace("@terminal", "$3").Replace("@limit", "$4"),
            "mt_doc_job", System.Tenant.Id, Now, RetentionSweeper.TerminalStates, 500);
        Assert.DoesNotContain(scans, s => s.NodeType == "Seq Scan");
        // Every index it reads (a bitmap plan's heap scan names none) is the new one, bounded by the service, not the
        // whole index read with finished_at as a condition on its second column.
        var indexScans = scans.Where(s => s.Index is not null).ToList();
        Assert.NotEmpty(indexScans);
        Assert.All(indexScans, s => Assert.Equal("mt_doc_job_idx_service_finished_unerased", s.Index));
        Assert.All(indexScans, s => Assert.Contains("service_id", s.IndexCond));
    }

    private static async Task<List<string>> IdempotencyKeysAsync() =>
        (await Sql.ScalarAsync<string[]>("SELECT coalesce(array_agg(split_part(id, ':', 2) ORDER BY id), '{}') FROM ns.mt_doc_idempotentrequest")).ToList();
}
