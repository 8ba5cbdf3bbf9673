using Marten;
using NotificationService.Core.Offers;
using NotificationService.Core.Services;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Npgsql;

namespace NotificationService.Core.Retention;

/// <summary>What one sweep did, over all services.</summary>
public sealed record RetentionSwept(int ParamsErased, int OffersMetadataErased, int JobsDeleted, int OffersDeleted, int IdempotencyRecordsDeleted)
{
    public static RetentionSwept operator +(RetentionSwept a, RetentionSwept b) => new(a.ParamsErased + b.ParamsErased,
        a.OffersMetadataErased + b.OffersMetadataErased, a.JobsDeleted + b.JobsDeleted, a.OffersDeleted + b.OffersDeleted,
        a.IdempotencyRecordsDeleted + b.IdempotencyRecordsDeleted);

    public int Total => ParamsErased + OffersMetadataErased + JobsDeleted + OffersDeleted + IdempotencyRecordsDeleted;
}

/// <summary>
/// Applies each service's retention (<see cref="RetentionSettings"/>, or its own): erases the params of jobs that ended
/// more than N days ago, then an offer's metadata once none of its jobs has params left; deletes the streams and Job
/// documents of offers whose jobs all ended more than M days ago, then the Offer documents left without jobs; and the
/// idempotency records older than K days. Every step works in batches of <c>Retention:BatchSize</c>, one transaction
/// each, so a million old jobs never make one giant transaction. Every core instance runs the sweep; each batch first
/// takes a transaction-scoped advisory lock and a core that does not get it leaves the round to the one that did.
/// Ended jobs' streams are deleted (Marten's TombstoneStream: events, stream row), not archived: archiving only flags
/// the rows, and the point is that the data is gone.
/// </summary>
public sealed class RetentionSweeper(IDocumentStore store, RetentionSettings settings, TimeProvider clock, ILogger<RetentionSweeper> logger)
    : BackgroundService
{
    /// <summary>The advisory lock key every core's sweep takes ("ns.reten" in ASCII).</summary>
    public const long LockKey = 0x6e732e726574656e;
    private const string S = NotificationStore.Schema;
    private static readonly string[] Terminal = [nameof(JobState.Finished), nameof(JobState.Failed), nameof(JobState.Expired), nameof(JobState.Canceled)];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (settings.SweepInterval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(settings.SweepInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var swept = await SweepAsync(clock.GetUtcNow(), stoppingToken);
                if (swept is { Total: > 0 }) logger.LogInformation("Retention sweep: {Swept}", swept);
            }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Retention sweep failed; the next one retries"); }
        }
    }

    /// <summary>One sweep as of <paramref name="now"/>; null when another core held the lock (it is sweeping).</summary>
    public async Task<RetentionSwept?> SweepAsync(DateTimeOffset now, CancellationToken ct)
    {
        IReadOnlyList<ServiceAccount> services;
        await using (var query = store.QuerySession())
            services = await query.Query<ServiceAccount>().ToListAsync(ct);

        var total = new RetentionSwept(0, 0, 0, 0, 0);
        foreach (var service in services)
        {
            var retention = settings.For(service.Retention);
            var steps = new (Func<NpgsqlConnection, IDocumentSession, Task<int>> Batch, Func<int, RetentionSwept> Count)[]
            {
                ((c, s) => EraseParamsAsync(c, s, service.Id, now - TimeSpan.FromDays(retention.ParamsDays), now, ct), n => new(n, 0, 0, 0, 0)),
                ((c, s) => EraseOfferMetadataAsync(c, s, service.Id, now, ct), n => new(0, n, 0, 0, 0)),
                ((c, s) => DeleteJobsAsync(c, s, service.Id, now - TimeSpan.FromDays(retention.JobsDays), ct), n => new(0, 0, n, 0, 0)),
                ((c, s) => DeleteOffersAsync(c, s, service.Id, now - TimeSpan.FromDays(retention.JobsDays), ct), n => new(0, 0, 0, n, 0)),
                ((c, s) => DeleteIdempotencyRecordsAsync(c, s, service.Id, now - TimeSpan.FromDays(retention.IdempotencyDays), ct), n => new(0, 0, 0, 0, n)),
            };
            foreach (var (batch, count) in steps)
            {
                while (true)
                {
                    if (await InLockedTransactionAsync(batch, ct) is not { } done) return null;
                    total += count(done);
                    if (done < settings.BatchSize) break;
                }
            }
        }
        return total;
    }

    /// <summary>Runs one batch in a transaction holding the sweep's advisory lock; null when another core holds it.</summary>
    private async Task<int?> InLockedTransactionAsync(Func<NpgsqlConnection, IDocumentSession, Task<int>> batch, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        var connection = (NpgsqlConnection)session.Connection!;
        await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@key)", connection))
        {
            command.Parameters.AddWithValue("key", LockKey);
            if (!(bool)(await command.ExecuteScalarAsync(ct))!) return null;
        }
        var done = await batch(connection, session);
        // Every batch that found something queued its changes, so this commits them (and releases the lock).
        if (done > 0) await session.SaveChangesAsync(ct);
        return done;
    }

    private static string Ended(string alias, string cutoff) =>
        $"{alias}.data->>'state' = ANY(@terminal) AND {S}.mt_immutable_timestamptz({alias}.data->>'finishedAt') < {cutoff}";

    private async Task<int> EraseParamsAsync(NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, DateTimeOffset now, CancellationToken ct)
    {
        var jobs = await ReadAsync(connection, $"""
            SELECT j.id, j.mt_version FROM {S}.mt_doc_job j
            WHERE (j.data->>'serviceId')::uuid = @service AND {Ended("j", "@cutoff")} AND j.data->>'paramsErasedAt' IS NULL
            LIMIT @limit
            """, serviceId, cutoff, r => (Id: r.GetGuid(0), Version: r.GetInt64(1)), ct);
        // The version each job was read at: if anything was appended since (an operator's retry), the commit fails and
        // the next sweep decides again; an erased job cannot be retried.
        foreach (var (id, version) in jobs) session.Events.Append(id, version + 1, new JobParamsErased(id, "retention", "retention", now));
        new MaskStoredParams(jobs.Select(j => j.Id).ToList()).Execute(session);
        return jobs.Count;
    }

    private async Task<int> EraseOfferMetadataAsync(NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset now, CancellationToken ct)
    {
        var offers = await ReadAsync(connection, $"""
            SELECT o.id FROM {S}.mt_doc_offer o
            WHERE (o.data->>'serviceId')::uuid = @service AND o.data->>'erasedAt' IS NULL
              AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_job j WHERE (j.data->>'offerId')::uuid = o.id AND j.data->>'paramsErasedAt' IS NULL)
            LIMIT @limit
            """, serviceId, null, r => r.GetGuid(0), ct);
        if (offers.Count > 0)
            session.QueueSqlCommand($"UPDATE {S}.mt_doc_offer SET data = data || jsonb_build_object('metadata', null, 'erasedAt', ?::timestamptz) WHERE id = ANY(?)",
                now, offers.ToArray());
        return offers.Count;
    }

    private async Task<int> DeleteJobsAsync(NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // Only the jobs of offers whose every job ended before the cutoff: an offer is deleted whole, never half.
        var jobs = await ReadAsync(connection, $"""
            SELECT j.id FROM {S}.mt_doc_job j
            WHERE (j.data->>'serviceId')::uuid = @service AND {Ended("j", "@cutoff")}
              AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_job o WHERE (o.data->>'offerId')::uuid = (j.data->>'offerId')::uuid
                              AND NOT coalesce({Ended("o", "@cutoff")}, false))
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetGuid(0), ct);
        foreach (var id in jobs)
        {
            session.Events.TombstoneStream(id);
            session.Delete<Job>(id);
        }
        return jobs.Count;
    }

    private async Task<int> DeleteOffersAsync(NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // An offer is committed with its jobs in one transaction, so one without jobs had them all deleted above.
        var offers = await ReadAsync(connection, $"""
            SELECT o.id FROM {S}.mt_doc_offer o
            WHERE (o.data->>'serviceId')::uuid = @service AND {S}.mt_immutable_timestamptz(o.data->>'createdAt') < @cutoff
              AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_job j WHERE (j.data->>'offerId')::uuid = o.id)
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetGuid(0), ct);
        foreach (var id in offers) session.Delete<Offer>(id);
        return offers.Count;
    }

    private async Task<int> DeleteIdempotencyRecordsAsync(NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // Ids are "{serviceId}:{key}".
        var records = await ReadAsync(connection, $"""
            SELECT r.id FROM {S}.mt_doc_idempotentrequest r
            WHERE starts_with(r.id, @service::text || ':') AND {S}.mt_immutable_timestamptz(r.data->>'createdAt') < @cutoff
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetString(0), ct);
        foreach (var id in records) session.Delete<IdempotentRequest>(id);
        return records.Count;
    }

    private async Task<List<T>> ReadAsync<T>(
        NpgsqlConnection connection, string sql, Guid serviceId, DateTimeOffset? cutoff, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("service", serviceId);
        command.Parameters.AddWithValue("limit", settings.BatchSize);
        command.Parameters.AddWithValue("terminal", Terminal);
        if (cutoff is { } at) command.Parameters.AddWithValue("cutoff", at);
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) rows.Add(read(reader));
        return rows;
    }
}
