using Marten;
using Npgsql;
using NotificationService.Storage;
using Weasel.Postgresql;
using Weasel.Core;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Procedures;
using Weasel.Postgresql.Tables;
using Wolverine.Marten;

namespace NotificationService.Core.Limits;

/// <summary>
/// The limits that must hold across every core instance live in PostgreSQL, which all of them share: a token bucket row
/// per service (taken in one statement) and the pending-jobs quota (checked inside the offer's own transaction). Workers
/// write neither: the quota counts the job documents they already keep. The core creates these objects at start-up.
/// </summary>
public static class LimitsStorage
{
    /// <summary>Raised by <c>ns.admit_pending_jobs</c> when an offer would take its service past its pending-jobs quota.</summary>
    public const string PendingJobsExceeded = NotificationStore.PendingJobsQuotaSqlState;

    /// <summary>The advisory-lock class of the quota (the two-int form, a key space apart from the bigint locks Wolverine and Marten take).</summary>
    private const int QuotaLockClass = 11_001;

    public static StoreOptions AddLimitsStorage(this StoreOptions opts)
    {
        var buckets = new Table($"{NotificationStore.Schema}.offer_rate_buckets");
        buckets.AddColumn<Guid>("service_id").AsPrimaryKey();
        buckets.AddColumn("tokens", "double precision").NotNull();
        buckets.AddColumn("refreshed_at", "timestamptz").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(buckets);

        // Written as pg_get_functiondef prints it, which is what the schema check compares: any other spelling would be
        // seen as changed and replaced at every start-up.
        // 0 when a token was taken, else the seconds until one is there. A refused request takes nothing, so a client
        // that waits Retry-After gets in. The database's clock, so every core agrees on the refill.
        opts.Storage.ExtendedSchemaObjects.Add(Function.ForSql($$"""
            CREATE OR REPLACE FUNCTION {{NotificationStore.Schema}}.take_offer_token(p_service uuid, p_rate double precision, p_burst double precision)
             RETURNS double precision
             LANGUAGE plpgsql
            AS $function$
            DECLARE
              t timestamptz := clock_timestamp();
              available double precision;
            BEGIN
              INSERT INTO {{NotificationStore.Schema}}.offer_rate_buckets AS b (service_id, tokens, refreshed_at) VALUES (p_service, p_burst - 1, t)
              ON CONFLICT (service_id) DO UPDATE
                SET tokens = least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) - 1, refreshed_at = t
                WHERE least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) >= 1;
              IF FOUND THEN RETURN 0; END IF;
              SELECT least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) INTO available
                FROM {{NotificationStore.Schema}}.offer_rate_buckets b WHERE b.service_id = p_service;
              RETURN (1 - available) / p_rate;
            END $function$
            """));

        // Serialises the offers of one service (only those: the lock is per service) from this call to their commit,
        // so two core instances cannot both admit past the quota. The count stops at the quota, so it costs at most that
        // many index entries (the partial index on pending jobs), and skips the offer's own jobs, whichever order the
        // batch writes them in.
        opts.Storage.ExtendedSchemaObjects.Add(new StoredProcedure(
            PostgresqlProvider.Instance.Parse($"{NotificationStore.Schema}.admit_pending_jobs"), $$"""
            CREATE OR REPLACE PROCEDURE {{NotificationStore.Schema}}.admit_pending_jobs(p_service uuid, p_offer uuid, p_new integer, p_quota integer)
            LANGUAGE plpgsql AS $fn$
            DECLARE pending integer;
            BEGIN
              PERFORM pg_advisory_xact_lock({{QuotaLockClass}}, hashtext(p_service::text));
              SELECT count(*) INTO pending FROM (
                SELECT 1 FROM {{NotificationStore.Schema}}.mt_doc_job
                WHERE {{NotificationStore.PendingJobsPredicate}} AND (data ->> 'serviceId')::uuid = p_service
                  AND (data ->> 'offerId')::uuid <> p_offer
                LIMIT p_quota + 1) counted;
              IF pending + p_new > p_quota THEN
                RAISE EXCEPTION USING ERRCODE = '{{PendingJobsExceeded}}', MESSAGE = 'pending jobs quota reached';
              END IF;
            END $fn$;
            """));
        return opts;
    }

    /// <summary>
    /// Queued first in the offer's batch: the quota is checked and held in the same transaction as the inserts. A
    /// procedure, because a SELECT's result set would be read by Marten as the answer to the batch's next command.
    /// </summary>
    public sealed record AdmitPendingJobs(Guid ServiceId, Guid OfferId, int NewJobs, int Quota) : IMartenOp
    {
        public void Execute(IDocumentSession session) =>
            session.QueueSqlCommand($"CALL {NotificationStore.Schema}.admit_pending_jobs(?, ?, ?, ?)", ServiceId, OfferId, NewJobs, Quota);
    }

    public static bool IsPendingJobsExceeded(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is PostgresException { SqlState: PendingJobsExceeded }) return true;
        return false;
    }
}

/// <summary>The offer token bucket, one single-statement transaction per offer, outside the offer's own transaction.</summary>
public sealed class OfferTokens(NpgsqlDataSource database)
{
    /// <summary>Null when a token was taken; else the seconds to wait (at least one).</summary>
    public async Task<int?> TakeAsync(Guid serviceId, EffectiveLimits limits, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"SELECT {NotificationStore.Schema}.take_offer_token($1, $2, $3)");
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = limits.OffersPerSecond });
        command.Parameters.Add(new NpgsqlParameter { Value = (double)limits.Burst });
        var wait = (double)(await command.ExecuteScalarAsync(cancellation))!;
        return wait <= 0 ? null : (int)Math.Max(1, Math.Ceiling(wait));
    }

    /// <summary>Tokens in the bucket now, without taking one (a service that never posted has a full bucket).</summary>
    public async Task<double> AvailableAsync(Guid serviceId, EffectiveLimits limits, CancellationToken cancellation)
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

    /// <summary>The service's jobs not yet ended, counted up to <paramref name="upTo"/> (the quota) and one more.</summary>
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
