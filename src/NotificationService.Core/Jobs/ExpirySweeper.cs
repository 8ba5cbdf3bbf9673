using Marten;
using NotificationService.Storage;
using Wolverine;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Finds the jobs still waiting when their time ran out, so a job queued behind a blocked or stopped adapter ends
/// Expired on time instead of when a worker finally reaches it; each is ended by <see cref="ExpireJobHandler"/>, whose
/// transaction Wolverine commits. A finder rather than one <see cref="ExpireJob"/> scheduled per job at its expiry: that
/// would add to every job the scheduled envelope's insert in the offer's transaction and, at the expiry, a transaction
/// that loads the job and deletes the envelope, although most jobs end long before their expiry (the write path
/// issue 14 must halve); and a lost or purged message would leave a job waiting forever, so a sweep would be needed as a
/// backstop anyway. The messages are invoked one at a time, as the reconciler's are: a sweep
/// ends what it found before the next one looks, so a backlog is never published twice. Every core instance sweeps; the
/// exclusive stream lock and the handler's re-check make a second sweep of the same job a no-op.
/// </summary>
public sealed class ExpirySweeper(
    IDocumentStore store, IServiceScopeFactory scopes, TimeProvider clock, IConfiguration configuration, ILogger<ExpirySweeper> logger)
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

    /// <summary>
    /// The waiting jobs whose expiry passed, soonest first. The states are literals, so PostgreSQL can prove the query
    /// within the partial index of the jobs not yet sent (NotificationStore) in any plan and never reads an ended job's
    /// expiry; as parameters, a prepared statement's generic plan scanned the table (bench/results/background-queries-20261202.txt).
    /// </summary>
    public const string DueSql = $"""
        SELECT d.id FROM {NotificationStore.Schema}.mt_doc_job d
        WHERE d.data ->> 'state' IN ('Scheduled', 'Queued') AND d.expire_at <= ?
        ORDER BY d.expire_at LIMIT 500
        """;

    /// <summary>One sweep; returns how many jobs it ended Expired.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        IReadOnlyList<Guid> due;
        await using (var query = store.QuerySession())
            due = await query.AdvancedSql.QueryAsync<Guid>(DueSql, ct, now);
        if (due.Count == 0) return 0;

        var expired = 0;
        await using var scope = scopes.CreateAsyncScope();
        var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
        foreach (var jobId in due)
        {
            // One job that cannot be ended must not stop the others: it comes first again in every sweep (soonest expiry).
            try
            {
                // No answer when the job is gone (deleted by the retention sweep meanwhile).
                if (await bus.InvokeAsync<ExpiryChecked?>(new ExpireJob(jobId), ct) is { Expired: true }) expired++;
            }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not expire job {JobId}; the next sweep retries", jobId); }
        }
        if (expired > 0) logger.LogInformation("Expired {Count} jobs that were still waiting", expired);
        return expired;
    }
}
