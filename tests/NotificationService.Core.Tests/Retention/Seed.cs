using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Offers;
using NotificationService.Core.Retention;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Retention;

/// <summary>One seeded job: its params and how far it got (Queued: not started; Started: being sent; Finished: ended).</summary>
public sealed record SeedJob(object Params, JobState State = JobState.Finished);

/// <summary>
/// Old data, written the way the system writes it: an Offer document and one event stream per job whose events carry
/// old times (the Job document is their inline projection), so the sweep sees jobs that ended long ago.
/// </summary>
public static class Seed
{
    public static async Task<(Guid OfferId, Guid[] JobIds)> OfferAsync(
        this SystemFixture system, Tenant tenant, DateTimeOffset createdAt, DateTimeOffset endedAt, IReadOnlyList<SeedJob> jobs, Dictionary<string, string>? metadata = null)
    {
        var store = system.Core.Services.GetRequiredService<IDocumentStore>();
        await using var session = store.LightweightSession();
        var offer = new Offer { Id = Guid.NewGuid(), ServiceId = tenant.Id, CreatedAt = createdAt, Metadata = metadata };
        foreach (var job in jobs)
        {
            var id = Guid.NewGuid();
            var events = new List<object>
            {
                new JobQueued(id, offer.Id, tenant.Id, system.Email.Id, system.Email.Name, JsonSerializer.SerializeToElement(job.Params), createdAt, null),
            };
            if (job.State != JobState.Queued) events.Add(new JobStarted(id, 1, "seed", createdAt.AddSeconds(1)));
            if (job.State == JobState.Finished) events.Add(new JobFinished(id, 1, endedAt, "seed-message"));
            session.Events.StartStream<Job>(id, events.ToArray());
            offer.Jobs.Add(new OfferJob(id, system.Email.Id, system.Email.Name));
        }
        session.Store(offer);
        await session.SaveChangesAsync();
        return (offer.Id, offer.Jobs.Select(j => j.JobId).ToArray());
    }

    public static async Task IdempotencyRecordAsync(this SystemFixture system, Tenant tenant, string key, DateTimeOffset createdAt)
    {
        await using var session = system.Core.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        session.Store(new IdempotentRequest { Id = IdempotentRequest.IdFor(tenant.Id, key), RequestHash = "seed", OfferId = Guid.NewGuid(), CreatedAt = createdAt });
        await session.SaveChangesAsync();
    }

    public static Task<RetentionSwept?> SweepAsync(this SystemFixture system, DateTimeOffset now) =>
        system.Core.Services.GetRequiredService<RetentionSweeper>().SweepAsync(now, CancellationToken.None);

    /// <summary>The params in every stored event of the job that carries them, as PostgreSQL holds them.</summary>
    public static async Task<List<string>> StoredParamsAsync(Guid jobId) =>
        await Sql.ScalarAsync<string[]>($"SELECT coalesce(array_agg((data->'params')::text ORDER BY seq_id), '{{}}') FROM ns.mt_events WHERE stream_id = '{jobId}' AND data ? 'params'")
            is var values ? values.ToList() : [];

    public static Task<long> CountAsync(string sql) => Sql.ScalarAsync<long>(sql);
}
