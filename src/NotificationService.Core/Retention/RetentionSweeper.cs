using Marten;
using NotificationService.Core.Callbacks;
using NotificationService.Core.Offers;
using NotificationService.Core.Services;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Npgsql;

namespace NotificationService.Core.Retention;

/// <summary>What one sweep did, over all services.</summary>
public sealed record RetentionSwept(
    int ParamsErased, int OffersMetadataErased, int JobsDeleted, int OffersDeleted, int IdempotencyRecordsDeleted, int CallbackDeliveriesDeleted = 0)
{
    public static RetentionSwept operator +(RetentionSwept a, RetentionSwept b) => new(a.ParamsErased + b.ParamsErased,
        a.OffersMetadataErased + b.OffersMetadataErased, a.JobsDeleted + b.JobsDeleted, a.OffersDeleted + b.OffersDeleted,
        a.IdempotencyRecordsDeleted + b.IdempotencyRecordsDeleted, a.CallbackDeliveriesDeleted + b.CallbackDeliveriesDeleted);

    public int Total => ParamsErased + OffersMetadataErased + JobsDeleted + OffersDeleted + IdempotencyRecordsDeleted + CallbackDeliveriesDeleted;
}

/// <summary>
/// Applies each service's retention (<see cref="RetentionSettings"/>, or its own): erases the params of jobs that ended
/// more than N days ago, then an offer's metadata once none of its jobs has params left; deletes the streams and Job
/// documents of offers whose jobs all ended more than M days ago, then the Offer documents left without jobs; and the
/// idempotency records older than K days; callback delivery records kept as long as the jobs (M days after the attempt),
/// and all of a deleted callback's records (<see cref="DeletedCallback"/>). Every step works in batches of <c>Retention:BatchSize</c>, one transaction
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
    /// <summary>The ended states the sweeps ask for, as they pass them (a copy).</summary>
    public static string[] TerminalStates => [.. Terminal];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (settings.SweepInterval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(settings.SweepInterval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var now = clock.GetUtcNow();
                var swept = await SweepAsync(now, stoppingToken);
                if (swept is { Total: > 0 }) logger.LogInformation("Retention sweep: {Swept}", swept);
                // Orphans only come from jobs deleted before their dead letters went with them, so reading every body
                // daily is enough; every sweep would read them all each time. The last walk is recorded in the database
                // so that one core's walk serves them all.
                if (swept is not null) await SweepOrphanedDeadLettersIfDueAsync(now, stoppingToken);
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
            var (paramsCutoff, jobsCutoff, idempotencyCutoff) = (now - TimeSpan.FromDays(retention.ParamsDays),
                now - TimeSpan.FromDays(retention.JobsDays), now - TimeSpan.FromDays(retention.IdempotencyDays));
            Batch[] steps =
            [
                (c, s) => EraseParamsAsync(c, s, service.Id, paramsCutoff, now, ct),
                (c, s) => DeleteJobsAsync(c, s, service.Id, jobsCutoff, ct),
                (c, s) => DeleteOffersAsync(c, s, service.Id, jobsCutoff, ct),
                (c, s) => DeleteIdempotencyRecordsAsync(c, s, service.Id, idempotencyCutoff, ct),
                (c, s) => DeleteCallbackDeliveriesAsync(c, s, service.Id, jobsCutoff, ct),
                (c, s) => DeleteDeletedCallbacksDeliveriesAsync(c, s, service.Id, now, ct),
            ];
            foreach (var step in steps)
            {
                while (true)
                {
                    if (await InLockedTransactionAsync(step, ct) is not var (items, swept)) return null;
                    total += swept;
                    if (items < settings.BatchSize) break;
                }
            }
        }
        return total;
    }

    /// <summary>How often the background sweep also looks for orphaned dead letters (one core for all: the last walk is recorded).</summary>
    public static readonly TimeSpan OrphanInterval = TimeSpan.FromDays(1);

    /// <summary>
    /// Walks for orphaned dead letters unless some core finished a walk less than <see cref="OrphanInterval"/> before
    /// <paramref name="now"/>; how many it deleted, or null when it did not walk (not due, or another core held the lock).
    /// </summary>
    public async Task<int?> SweepOrphanedDeadLettersIfDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using (var query = store.QuerySession())
            if (await query.LoadAsync<OrphanWalk>(OrphanWalk.DeadLetters, ct) is { } last && now - last.At < OrphanInterval) return null;
        if (await SweepOrphanedDeadLettersAsync(ct) is not { } deleted) return null;
        await using var session = store.LightweightSession();
        session.Store(new OrphanWalk(OrphanWalk.DeadLetters, now));
        await session.SaveChangesAsync(ct);
        return deleted;
    }

    /// <summary>
    /// Deletes the workers' dead letters of jobs that no longer exist, walking the table once by id, a batch per
    /// transaction; how many it deleted, or null when another core held the lock.
    /// </summary>
    public async Task<int?> SweepOrphanedDeadLettersAsync(CancellationToken ct)
    {
        var (orphans, after) = (0, Guid.Empty);
        while (true)
        {
            var scanned = 0;
            if (await InLockedTransactionAsync(async (c, s) =>
                {
                    (scanned, after, var deleted) = await DeleteOrphanedDeadLettersAsync(c, s, after, ct);
                    orphans += deleted;
                    return (deleted, new(0, 0, 0, 0, 0));
                }, ct) is null) return null;
            if (scanned < settings.BatchSize) break;
        }
        if (orphans > 0) logger.LogInformation("Retention sweep: deleted {Count} dead letters of jobs that no longer exist", orphans);
        return orphans;
    }

    /// <summary>One batch of a step: how many rows it took (a full batch means there may be more) and what it did.</summary>
    private delegate Task<(int Items, RetentionSwept Swept)> Batch(NpgsqlConnection connection, IDocumentSession session);

    /// <summary>Runs one batch in a transaction holding the sweep's advisory lock; null when another core holds it.</summary>
    private async Task<(int Items, RetentionSwept Swept)?> InLockedTransactionAsync(Batch batch, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var connection = await session.OpenConnectionAsync(ct);
        await using (var command = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@key)", connection))
        {
            command.Parameters.AddWithValue("key", LockKey);
            if (!(bool)(await command.ExecuteScalarAsync(ct))!) return null;
        }
        var done = await batch(connection, session);
        // A batch that found something queued its changes, so this commits them (and releases the lock).
        if (done.Items > 0) await session.SaveChangesAsync(ct);
        return done;
    }

    /// <summary>
    /// One service's ended jobs whose params are due for erasure: a range of the partial index on (service, finished_at),
    /// which holds only jobs whose params are not erased yet, so a sweep reads this service's due jobs and nobody else's.
    /// </summary>
    public const string ParamsDueSql = $"""
        SELECT j.id, j.mt_version, (j.data->>'offerId')::uuid FROM {S}.mt_doc_job j
        WHERE j.service_id = @service AND j.finished_at < @cutoff AND j.data->>'paramsErasedAt' IS NULL
          AND j.state = ANY(@terminal)
        LIMIT @limit
        """;

    private async Task<(int, RetentionSwept)> EraseParamsAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, DateTimeOffset now, CancellationToken ct)
    {
        var jobs = await ReadAsync(connection, ParamsDueSql, serviceId, cutoff, r => (Id: r.GetGuid(0), Version: r.GetInt64(1), OfferId: r.GetGuid(2)), ct);
        if (jobs.Count == 0) return (0, new(0, 0, 0, 0, 0));
        var offers = await EraseOfferMetadata.LeftWithoutParamsAsync(connection, jobs.Select(j => j.OfferId), jobs.Select(j => j.Id), ct);
        // The event JobLifecycle.OnParamsErased decides, written without loading the jobs: the query has its guard (not
        // erased yet) besides retention's own rule (ended before the cutoff). Appended at the version each job was read
        // at: if anything was appended since (an operator's retry), the commit fails and the next sweep decides again.
        foreach (var (id, version, _) in jobs) session.Events.Append(id, version + 1, new JobParamsErased(id, "retention", "retention", now));
        new MaskStoredParams(jobs.Select(j => j.Id).ToList()).Execute(session);
        new EraseOfferMetadata(offers, now).Execute(session);
        return (jobs.Count, new(jobs.Count, offers.Count, 0, 0, 0));
    }

    private async Task<(int, RetentionSwept)> DeleteJobsAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // The jobs of offers created before the cutoff whose every job ended before it: no job is deleted while another of
        // its offer is still due to stay. Found from the offers' creation time, so the jobs kept (most) are not read at all.
        var jobs = await ReadAsync(connection, $"""
            SELECT j.id FROM {S}.mt_doc_offer o JOIN {S}.mt_doc_job j ON (j.data->>'offerId')::uuid = o.id
            WHERE o.service_id = @service AND o.created_at < @cutoff
              AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_job u WHERE (u.data->>'offerId')::uuid = o.id
                              AND NOT coalesce(u.data->>'state' = ANY(@terminal) AND u.finished_at < @cutoff, false))
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetGuid(0), ct);
        foreach (var id in jobs)
        {
            session.Events.TombstoneStream(id);
            session.Delete<Job>(id);
        }
        // Their poison messages' rows too: kept, they would outlive the jobs they name (and may quote the recipient).
        new DeleteJobsDeadLetters(jobs).Execute(session);
        return (jobs.Count, new(0, 0, jobs.Count, 0, 0));
    }

    private async Task<(int, RetentionSwept)> DeleteOffersAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // An offer is committed with its jobs in one transaction, so an old one without jobs had them deleted above.
        var offers = await ReadAsync(connection, $"""
            SELECT o.id FROM {S}.mt_doc_offer o
            WHERE o.service_id = @service AND o.created_at < @cutoff
              AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_job j WHERE (j.data->>'offerId')::uuid = o.id)
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetGuid(0), ct);
        foreach (var id in offers) session.Delete<Offer>(id);
        return (offers.Count, new(0, 0, 0, offers.Count, 0));
    }

    private async Task<(int, RetentionSwept)> DeleteIdempotencyRecordsAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // Ids are "{serviceId}:{key}".
        var records = await ReadAsync(connection, $"""
            SELECT r.id FROM {S}.mt_doc_idempotentrequest r
            WHERE {S}.mt_immutable_timestamptz(r.data->>'createdAt') < @cutoff AND starts_with(r.id, @service::text || ':')
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetString(0), ct);
        foreach (var id in records) session.Delete<IdempotentRequest>(id);
        return (records.Count, new(0, 0, 0, 0, records.Count));
    }

    private async Task<(int, RetentionSwept)> DeleteCallbackDeliveriesAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset cutoff, CancellationToken ct)
    {
        // Per callback, through the (callback_id, attempted_at, id) index: only the old rows are read.
        var rows = await ReadAsync(connection, $"""
            SELECT d.id FROM {S}.mt_doc_callbackendpoint c JOIN {S}.mt_doc_callbackdelivery d ON d.callback_id = c.id
            WHERE (c.data->>'serviceId')::uuid = @service AND d.attempted_at < @cutoff
            LIMIT @limit
            """, serviceId, cutoff, r => r.GetGuid(0), ct);
        foreach (var id in rows) session.Delete<CallbackDelivery>(id);
        return (rows.Count, new(0, 0, 0, 0, 0, rows.Count));
    }

    /// <summary>
    /// A deleted callback's records, a batch at a time; its marker goes once none is left and the delete is older than any
    /// delivery that was in flight when it happened could be (so a late record is swept too).
    /// </summary>
    private async Task<(int, RetentionSwept)> DeleteDeletedCallbacksDeliveriesAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid serviceId, DateTimeOffset now, CancellationToken ct)
    {
        var rows = await ReadAsync(connection, $"""
            SELECT d.id FROM {S}.mt_doc_deletedcallback x JOIN {S}.mt_doc_callbackdelivery d ON d.callback_id = x.id
            WHERE (x.data->>'serviceId')::uuid = @service
            LIMIT @limit
            """, serviceId, now, r => r.GetGuid(0), ct);
        foreach (var id in rows) session.Delete<CallbackDelivery>(id);
        if (rows.Count < settings.BatchSize)
        {
            var done = await ReadAsync(connection, $"""
                SELECT x.id FROM {S}.mt_doc_deletedcallback x
                WHERE (x.data->>'serviceId')::uuid = @service AND {S}.mt_immutable_timestamptz(x.data->>'deletedAt') < @cutoff
                  AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_callbackdelivery d WHERE d.callback_id = x.id)
                LIMIT @limit
                """, serviceId, now - DeletedCallbackGrace, r => r.GetGuid(0), ct);
            foreach (var id in done) session.Delete<DeletedCallback>(id);
            // Counted as items so the batch commits; a full batch of markers goes round again.
            return (rows.Count + done.Count, new(0, 0, 0, 0, 0, rows.Count));
        }
        return (rows.Count, new(0, 0, 0, 0, 0, rows.Count));
    }

    /// <summary>
    /// One batch of the orphan walk: the next <c>Retention:BatchSize</c> rows by id after <paramref name="after"/>, and the
    /// ones among them whose job no longer exists are deleted. Erasure and retention delete a job's rows with it
    /// (<see cref="DeleteJobsDeadLetters"/>), but jobs erased or deleted before they did left theirs behind, and such a row
    /// may quote a recipient. The job id is read from the DeliverJob JSON inside the stored envelope (Wolverine stores no
    /// job id column); a row with none (not a job's message, or a body that cannot be read) is left to the operators.
    /// The pattern accepts only a well-formed UUID, so the cast cannot fail on a stray row and stop every sweep.
    /// </summary>
    private const string JobIdPattern = "\"jobId\"\\s*:\\s*\"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\"";

    private async Task<(int Scanned, Guid Last, int Deleted)> DeleteOrphanedDeadLettersAsync(
        NpgsqlConnection connection, IDocumentSession session, Guid after, CancellationToken ct)
    {
        await using (var exists = new NpgsqlCommand($"SELECT to_regclass('{DeleteJobsDeadLetters.Table}') IS NOT NULL", connection))
            if (!(bool)(await exists.ExecuteScalarAsync(ct))!) return (0, after, 0);
        await using var command = new NpgsqlCommand($"""
            SELECT d.id, d.job_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {S}.mt_doc_job j WHERE j.id = d.job_id)
            FROM (SELECT id, (regexp_match(encode(body, 'escape'), '{JobIdPattern}', 'i'))[1]::uuid AS job_id
                  FROM {DeleteJobsDeadLetters.Table} WHERE id > @after ORDER BY id LIMIT @limit) d
            ORDER BY d.id
            """, connection);
        command.Parameters.AddWithValue("after", after);
        command.Parameters.AddWithValue("limit", settings.BatchSize);
        var (scanned, last, orphans) = (0, after, new List<Guid>());
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
            {
                (scanned, last) = (scanned + 1, reader.GetGuid(0));
                if (reader.GetBoolean(1)) orphans.Add(last);
            }
        if (orphans.Count > 0) session.QueueSqlCommand($"DELETE FROM {DeleteJobsDeadLetters.Table} WHERE id = ANY(?)", orphans.ToArray());
        return (scanned, last, orphans.Count);
    }

    /// <summary>Longer than any delivery can be in flight (Callbacks:TimeoutSeconds is at most 60 s).</summary>
    public static readonly TimeSpan DeletedCallbackGrace = TimeSpan.FromMinutes(10);

    private async Task<List<T>> ReadAsync<T>(
        NpgsqlConnection connection, string sql, Guid serviceId, DateTimeOffset cutoff, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("service", serviceId);
        command.Parameters.AddWithValue("limit", settings.BatchSize);
        command.Parameters.AddWithValue("terminal", Terminal);
        command.Parameters.AddWithValue("cutoff", cutoff);
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) rows.Add(read(reader));
        return rows;
    }
}

/// <summary>When any core last finished walking the dead letters for orphans.</summary>
public sealed record OrphanWalk(string Id, DateTimeOffset At)
{
    public const string DeadLetters = "dead-letters";
}
