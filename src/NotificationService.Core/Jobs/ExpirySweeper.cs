using Marten;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Expires jobs still waiting when their time runs out, so a job queued behind a blocked or stopped adapter ends
/// Expired on time instead of when a worker finally reaches it. Every core instance sweeps; the exclusive stream
/// lock and the re-check of the state make a second sweep of the same job a no-op.
/// </summary>
public sealed class ExpirySweeper(IDocumentStore store, TimeProvider clock, IConfiguration configuration, ILogger<ExpirySweeper> logger)
    : BackgroundService
{
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(configuration.GetValue("Jobs:ExpirySweepSeconds", 5.0));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await SweepAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Expiry sweep failed; the next one retries"); }
        }
    }

    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        IReadOnlyList<Guid> due;
        await using (var query = store.QuerySession())
            due = await query.Query<Job>()
                .Where(j => (j.State == JobState.Queued || j.State == JobState.Scheduled) && j.ExpireAt != null && j.ExpireAt <= now)
                .Select(j => j.Id).Take(500).ToListAsync(ct);

        var expired = 0;
        foreach (var jobId in due)
        {
            await using var session = store.LightweightSession();
            var stream = await session.Events.FetchForExclusiveWriting<Job>(jobId, ct);
            if (JobLifecycle.OnExpiryDue(stream.Aggregate!, clock.GetUtcNow()) is not { Count: > 0 } events) continue;
            stream.AppendMany(events);
            await session.SaveChangesAsync(ct);
            expired++;
        }
        if (expired > 0) logger.LogInformation("Expired {Count} jobs that were still waiting", expired);
        return expired;
    }
}
