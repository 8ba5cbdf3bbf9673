using Marten;
using Npgsql;
using NotificationService.Storage;
using Weasel.Postgresql;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Procedures;
using Weasel.Postgresql.Tables;
using Wolverine.Marten;

namespace NotificationService.Core.Limits;

/// <summary>
/// The limits that must hold across every core instance live in PostgreSQL, which all of them share: a token bucket row
/// per service (taken in one statement) and a pending-jobs bound per service, raised inside each offer's own transaction.
/// Workers write neither. The core creates these objects at start-up; the functions are written as pg_get_functiondef
/// prints them, which is what the schema check compares (any other spelling is "changed" and replaced at every start).
/// </summary>
/// <remarks>
/// The bound is an upper bound of the service's jobs not yet ended: an exact count when it was last counted plus every
/// job admitted since (jobs that ended since only make the true number smaller). So an offer is admitted in O(1), under
/// the bound row's lock; only when the bound says "full" is it recounted exactly, at most once a second per service, so
/// a service held at its quota cannot make PostgreSQL count its backlog on every request. Counting the backlog on every
/// offer instead cost 12-37 ms at 10,000 pending jobs, serialised per service.
/// </remarks>
public static class LimitsStorage
{
    /// <summary>Raised by <c>ns.admit_pending_jobs</c> when an offer would take its service past its pending-jobs quota.</summary>
    public const string PendingJobsExceeded = NotificationStore.PendingJobsQuotaSqlState;

    public static StoreOptions AddLimitsStorage(this StoreOptions opts)
    {
        var schema = NotificationStore.Schema;
        var buckets = new Table($"{schema}.offer_rate_buckets");
        buckets.AddColumn<Guid>("service_id").AsPrimaryKey();
        buckets.AddColumn("tokens", "double precision").NotNull();
        buckets.AddColumn("refreshed_at", "timestamptz").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(buckets);

        var bounds = new Table($"{schema}.pending_job_bounds");
        bounds.AddColumn<Guid>("service_id").AsPrimaryKey();
        bounds.AddColumn("bound", "integer").NotNull();
        bounds.AddColumn("counted_at", "timestamptz").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(bounds);

        // Takes a token and returns 0, or returns the seconds until one is there (a refused request takes nothing, so a
        // client that waits Retry-After gets in); with the service's pending-jobs bound (null: never counted), so the
        // offer's pre-check costs no second round trip. The database's clock, so every core agrees on the refill.
        opts.Storage.ExtendedSchemaObjects.Add(Function.ForSql($$"""
            CREATE OR REPLACE FUNCTION {{schema}}.take_offer_token(p_service uuid, p_rate double precision, p_burst double precision, OUT wait double precision, OUT pending_bound integer)
             RETURNS record
             LANGUAGE plpgsql
            AS $function$
            DECLARE
              t timestamptz := clock_timestamp();
              available double precision;
            BEGIN
              SELECT b.bound INTO pending_bound FROM {{schema}}.pending_job_bounds b WHERE b.service_id = p_service;
              INSERT INTO {{schema}}.offer_rate_buckets AS b (service_id, tokens, refreshed_at) VALUES (p_service, p_burst - 1, t)
              ON CONFLICT (service_id) DO UPDATE
                SET tokens = least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) - 1, refreshed_at = t
                WHERE least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) >= 1;
              IF FOUND THEN wait := 0; RETURN; END IF;
              SELECT least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) INTO available
                FROM {{schema}}.offer_rate_buckets b WHERE b.service_id = p_service;
              wait := (1 - available) / p_rate;
            END $function$;
            """));

        // Its own transaction, before the offer's: the exact count replaces the bound, unless the bound was counted less
        // than p_min_seconds ago. The row lock orders it with the offers in flight: it counts after they commit.
        opts.Storage.ExtendedSchemaObjects.Add(Function.ForSql($$"""
            CREATE OR REPLACE FUNCTION {{schema}}.recount_pending_jobs(p_service uuid, p_quota integer, p_min_seconds double precision)
             RETURNS integer
             LANGUAGE plpgsql
            AS $function$
            DECLARE
              current_bound integer;
              last_counted timestamptz;
            BEGIN
              INSERT INTO {{schema}}.pending_job_bounds AS b (service_id, bound, counted_at) VALUES (p_service, 0, '-infinity')
              ON CONFLICT (service_id) DO UPDATE SET bound = b.bound
              RETURNING b.bound, b.counted_at INTO current_bound, last_counted;
              IF last_counted > clock_timestamp() - make_interval(secs => p_min_seconds) THEN RETURN current_bound; END IF;
              SELECT count(*) INTO current_bound FROM (
                SELECT 1 FROM {{schema}}.mt_doc_job
                WHERE {{NotificationStore.PendingJobsPredicate}} AND (data ->> 'serviceId')::uuid = p_service
                LIMIT p_quota + 1) counted;
              UPDATE {{schema}}.pending_job_bounds SET bound = current_bound, counted_at = clock_timestamp() WHERE service_id = p_service;
              RETURN current_bound;
            END $function$;
            """));

        // In the offer's transaction: raises the bound by the offer's jobs, or refuses the whole transaction. The row stays
        // locked until the commit, so two core instances cannot both admit past the quota.
        opts.Storage.ExtendedSchemaObjects.Add(new StoredProcedure(PostgresqlProvider.Instance.Parse($"{schema}.admit_pending_jobs"), $$"""
            CREATE OR REPLACE PROCEDURE {{schema}}.admit_pending_jobs(p_service uuid, p_new integer, p_quota integer)
            LANGUAGE plpgsql AS $fn$
            DECLARE raised integer;
            BEGIN
              UPDATE {{schema}}.pending_job_bounds SET bound = bound + p_new WHERE service_id = p_service RETURNING bound INTO raised;
              IF NOT FOUND OR raised > p_quota THEN
                RAISE EXCEPTION USING ERRCODE = '{{PendingJobsExceeded}}', MESSAGE = 'pending jobs quota reached';
              END IF;
            END $fn$;
            """));
        return opts;
    }

    /// <summary>
    /// Queued with the offer's writes: the quota is checked and held in the same transaction as the inserts. A procedure,
    /// because a SELECT's result set would be read by Marten as the answer to the batch's next command.
    /// </summary>
    public sealed record AdmitPendingJobs(Guid ServiceId, int NewJobs, int Quota) : IMartenOp
    {
        public void Execute(IDocumentSession session) =>
            session.QueueSqlCommand($"CALL {NotificationStore.Schema}.admit_pending_jobs(?, ?, ?)", ServiceId, NewJobs, Quota);
    }

    public static bool IsPendingJobsExceeded(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is PostgresException { SqlState: PendingJobsExceeded }) return true;
        return false;
    }
}

/// <summary>The shared counters behind the limits, each read or taken in one short statement of its own.</summary>
public sealed class LimitCounters(NpgsqlDataSource database)
{
    /// <summary>How often a full service's jobs are counted again at most; also the Retry-After of a pending-jobs 429.</summary>
    public const int RecountSeconds = 1;

    /// <summary>Takes an offer token: null, or the seconds to wait (at least one); and the service's pending-jobs bound.</summary>
    public async Task<(int? RetryAfter, int? PendingBound)> TakeOfferTokenAsync(Guid serviceId, EffectiveLimits limits, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"SELECT wait, pending_bound FROM {NotificationStore.Schema}.take_offer_token($1, $2, $3)");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = limits.OffersPerSecond });
        command.Parameters.Add(new NpgsqlParameter { Value = (double)limits.Burst });
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        await reader.ReadAsync(cancellation);
        var wait = reader.GetDouble(0);
        int? bound = reader.IsDBNull(1) ? null : reader.GetInt32(1);
        return (wait <= 0 ? null : (int)Math.Max(1, Math.Ceiling(wait)), bound);
    }

    /// <summary>The service's pending jobs counted exactly (up to the quota and one more), unless counted within the last second.</summary>
    public async Task<int> RecountPendingJobsAsync(Guid serviceId, int quota, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"SELECT {NotificationStore.Schema}.recount_pending_jobs($1, $2, $3)");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = quota });
        command.Parameters.Add(new NpgsqlParameter { Value = (double)RecountSeconds });
        return (int)(await command.ExecuteScalarAsync(cancellation))!;
    }

    /// <summary>Tokens in the bucket now, without taking one (a service that never posted has a full bucket).</summary>
    public async Task<double> AvailableTokensAsync(Guid serviceId, EffectiveLimits limits, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"""
            SELECT least($3, b.tokens + $2 * greatest(0, extract(epoch FROM clock_timestamp() - b.refreshed_at)))
            FROM {NotificationStore.Schema}.offer_rate_buckets b WHERE b.service_id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = limits.OffersPerSecond });
        command.Parameters.Add(new NpgsqlParameter { Value = (double)limits.Burst });
        return await command.ExecuteScalarAsync(cancellation) is double tokens ? Math.Max(0, tokens) : limits.Burst;
    }

    /// <summary>The service's jobs not yet ended, counted exactly up to <paramref name="upTo"/> (the quota) and one more.</summary>
    public async Task<int> PendingJobsAsync(Guid serviceId, int upTo, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"""
            SELECT count(*)::int FROM (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_job
              WHERE {NotificationStore.PendingJobsPredicate} AND (data ->> 'serviceId')::uuid = $1 LIMIT $2) counted
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = upTo + 1 });
        return (int)(await command.ExecuteScalarAsync(cancellation))!;
    }
}
