using System.Collections.Concurrent;
using Marten;
using Npgsql;
using NotificationService.Storage;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Tables;

namespace NotificationService.Core.Limits;

/// <summary>
/// The limits that must hold across every core instance live in PostgreSQL, which all of them share: a token bucket row
/// per service and a pending-jobs bound per service, both taken in one statement before the offer's transaction.
/// Workers write neither. The core creates these objects at start-up; the functions are written as pg_get_functiondef
/// prints them, which is what the schema check compares (any other spelling is "changed" and replaced at every start).
/// </summary>
/// <remarks>
/// The bound is an upper bound of the service's jobs not yet ended: an exact count when it was last counted (the jobs
/// stored plus those reserved by offers still in flight) plus every job reserved since; jobs that ended since only make
/// the true number smaller. An offer reserves its jobs against it in O(1) and records the reservation by its offer id.
/// A stored offer claims its reservation by existing: a recount reads the jobs and the reservations whose offer it
/// cannot see in one snapshot, so it sees every admitted job exactly once, as a reservation or as a job. The offer's
/// transaction does not touch the reservation (one statement fewer per offer, issue 14); claimed ones are deleted in
/// bulk by <see cref="ReservationSweeper"/> and by the recount. Only when the bound says "full" is the service counted,
/// at most once a second, so a service held at its quota cannot make PostgreSQL count its backlog on every request. Why
/// not in the offer's own transaction: counting the backlog there cost 12-37 ms at 10,000 pending jobs, and even an O(1)
/// bound row updated there holds the row across the offer's WAL flush, serialising one service's commits. Either way
/// one service's offers meet on one row (as on its token bucket row): pgbench on the shared development machine, 16
/// clients, gave about 1,700 offers/s for this shape (reservation, then a one-insert transaction) against 3,600-8,900
/// for the insert alone; an upper limit per service well above the 630 offers/s one core accepted in the last bench.
/// </remarks>
public static class LimitsStorage
{
    /// <summary>
    /// Whether reservation r's offer is stored: true, or NULL when it is not. A scalar subquery, a probe of the offers'
    /// primary key per reservation, which PostgreSQL never hashes; an EXISTS became a hash of every offer's id, read at
    /// each sweep, when the statistics counted many reservations.
    /// </summary>
    internal static readonly string OfferStored =
        $"(SELECT true FROM {NotificationStore.Schema}.mt_doc_offer o WHERE o.id = r.offer_id)";

    /// <summary>
    /// Deletes the reservations r that match <paramref name="where"/>, skipping rows another sweep or recount is deleting.
    /// The rows are locked in one uncorrelated subquery, which runs once, and deleted by ctid: as <c>offer_id IN (...
    /// FOR UPDATE SKIP LOCKED)</c>, planned for the one row the statistics of this often emptied table can count,
    /// PostgreSQL ran the locking subquery again for every reservation (bench/README.md, "Reservations deleted in
    /// quadratic time").
    /// </summary>
    internal static string DeleteReservations(string where) => $"""
        DELETE FROM {NotificationStore.Schema}.pending_job_reservations WHERE ctid = ANY (ARRAY(
          SELECT r.ctid FROM {NotificationStore.Schema}.pending_job_reservations r WHERE {where}
          FOR UPDATE SKIP LOCKED))
        """;

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

        var reservations = new Table($"{schema}.pending_job_reservations");
        reservations.AddColumn<Guid>("offer_id").AsPrimaryKey();
        reservations.AddColumn<Guid>("service_id").NotNull();
        reservations.AddColumn("jobs", "integer").NotNull();
        reservations.AddColumn("reserved_at", "timestamptz").NotNull();
        reservations.Indexes.Add(new IndexDefinition("pending_job_reservations_service") { Columns = ["service_id"] });
        opts.Storage.ExtendedSchemaObjects.Add(reservations);

        // Takes a token (wait = 0) or says how long until one is there (a refused request takes nothing, so a client that
        // waits Retry-After gets in), by the database's clock, so every core agrees on the refill; with a token, reserves
        // the offer's jobs if the bound has room. Asked for a lease for p_lease_offers offers like this one (OfferLease), it
        // takes tokens and places for as many of them as keep half the burst in the bucket and the bound within half
        // the quota, recorded under the lease's id (leased: how many; 0 when fewer than two fit, and this offer is decided
        // alone, as near a limit). No WAL flush of its own: a
        // reservation is written before its offer, so the offer's durable commit makes it durable too; a token lost in a
        // crash is harmless. The bucket row, taken first, is held to the end of this short transaction, so one service's
        // gates pass one at a time on every core. A gate that read the clock before another that took the row first
        // leaves the later time: setting its own would credit the refill between the two a second time.
        opts.Storage.ExtendedSchemaObjects.Add(Function.ForSql($$"""
            CREATE OR REPLACE FUNCTION {{schema}}.offer_gate(p_service uuid, p_offer uuid, p_rate double precision, p_burst double precision, p_jobs integer, p_quota integer, p_lease uuid, p_lease_offers integer, OUT wait double precision, OUT reserved boolean, OUT leased integer)
             RETURNS record
             LANGUAGE plpgsql
            AS $function$
            DECLARE
              t timestamptz := clock_timestamp();
              available double precision;
              tokens_left double precision;
            BEGIN
              PERFORM set_config('synchronous_commit', 'off', true);
              reserved := false;
              leased := 0;
              INSERT INTO {{schema}}.offer_rate_buckets AS b (service_id, tokens, refreshed_at) VALUES (p_service, p_burst - 1, t)
              ON CONFLICT (service_id) DO UPDATE
                SET tokens = least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) - 1, refreshed_at = greatest(b.refreshed_at, t)
                WHERE least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) >= 1
              RETURNING b.tokens INTO tokens_left;
              IF NOT FOUND THEN
                SELECT least(p_burst, b.tokens + p_rate * greatest(0, extract(epoch FROM t - b.refreshed_at))) INTO available
                  FROM {{schema}}.offer_rate_buckets b WHERE b.service_id = p_service;
                wait := (1 - available) / p_rate;
                RETURN;
              END IF;
              wait := 0;
              IF p_lease_offers > 1 THEN
                SELECT least(p_lease_offers, floor(tokens_left - p_burst / 2)::integer + 1, (p_quota / 2 - b.bound) / p_jobs) INTO leased
                  FROM {{schema}}.pending_job_bounds b WHERE b.service_id = p_service FOR UPDATE;
                IF leased > 1 THEN
                  UPDATE {{schema}}.pending_job_bounds SET bound = bound + leased * p_jobs WHERE service_id = p_service;
                  UPDATE {{schema}}.offer_rate_buckets SET tokens = tokens - (leased - 1) WHERE service_id = p_service;
                  INSERT INTO {{schema}}.pending_job_reservations (offer_id, service_id, jobs, reserved_at) VALUES (p_lease, p_service, leased * p_jobs, t);
                  reserved := true;
                  RETURN;
                END IF;
                leased := 0;
              END IF;
              UPDATE {{schema}}.pending_job_bounds SET bound = bound + p_jobs WHERE service_id = p_service AND bound + p_jobs <= p_quota;
              IF FOUND THEN
                INSERT INTO {{schema}}.pending_job_reservations (offer_id, service_id, jobs, reserved_at) VALUES (p_offer, p_service, p_jobs, t);
                reserved := true;
              END IF;
            END $function$;
            """));

        // When the bound has no room (or the service was never counted): count the service again, unless that was done
        // less than p_min_seconds ago, then reserve if there is room now (with p_jobs = 0, only count: LimitCounters). The bound row's lock orders it with every other
        // reservation of the service; the count and the sum of open reservations (whose offer is not stored) are read in
        // one snapshot. Claimed reservations, and those neither claimed nor released within a minute (their core died),
        // are deleted first, skipping rows the sweep is deleting (waiting for them while holding the bound row could
        // deadlock with a gate); the sum leaves both kinds out again, for rows skipped and for an offer stored between
        // the delete and the count (its jobs are counted, so its reservation must not be).
        opts.Storage.ExtendedSchemaObjects.Add(Function.ForSql($$"""
            CREATE OR REPLACE FUNCTION {{schema}}.recount_and_reserve(p_service uuid, p_offer uuid, p_jobs integer, p_quota integer, p_min_seconds double precision)
             RETURNS boolean
             LANGUAGE plpgsql
            AS $function$
            DECLARE
              t timestamptz := clock_timestamp();
              current_bound integer;
              last_counted timestamptz;
            BEGIN
              PERFORM set_config('synchronous_commit', 'off', true);
              INSERT INTO {{schema}}.pending_job_bounds AS b (service_id, bound, counted_at) VALUES (p_service, 0, '-infinity')
              ON CONFLICT (service_id) DO UPDATE SET bound = b.bound
              RETURNING b.bound, b.counted_at INTO current_bound, last_counted;
              IF last_counted <= t - make_interval(secs => p_min_seconds) THEN
                {{DeleteReservations($"r.service_id = p_service AND (r.reserved_at < t - interval '1 minute' OR {OfferStored})")}};
                SELECT (SELECT count(*) FROM (
                          SELECT 1 FROM {{schema}}.mt_doc_job
                          WHERE {{NotificationStore.PendingJobsPredicate}} AND service_id = p_service
                          LIMIT p_quota + 1) counted)
                     + (SELECT coalesce(sum(r.jobs), 0) FROM {{schema}}.pending_job_reservations r
                        WHERE r.service_id = p_service AND r.reserved_at >= t - interval '1 minute'
                          AND {{OfferStored}} IS NULL)
                  INTO current_bound;
                UPDATE {{schema}}.pending_job_bounds SET bound = current_bound, counted_at = t WHERE service_id = p_service;
              END IF;
              IF p_jobs = 0 THEN RETURN true; END IF;
              IF current_bound + p_jobs > p_quota THEN RETURN false; END IF;
              UPDATE {{schema}}.pending_job_bounds SET bound = current_bound + p_jobs WHERE service_id = p_service;
              INSERT INTO {{schema}}.pending_job_reservations (offer_id, service_id, jobs, reserved_at) VALUES (p_offer, p_service, p_jobs, t);
              RETURN true;
            END $function$;
            """));
        return opts;
    }
}

/// <summary>
/// The shared counters behind the limits, each read or taken in one short statement of its own, on a pool of their own
/// (closed with the host: a test's extra core left its connections open until they idled out).
/// </summary>
public sealed class LimitCounters(NpgsqlDataSource database, ILogger<LimitCounters> logger) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => database.DisposeAsync();

    /// <summary>How often a full service's jobs are counted again at most; also the Retry-After of a pending-jobs 429.</summary>
    public const int RecountSeconds = 1;

    public enum Gate { Admitted, OverRate, OverQuota }

    /// <summary>A service's offers on this core: how many came lately (which sizes its next lease) and its current lease.</summary>
    private sealed class Demand
    {
        public OfferLease? Lease;
        /// <summary>Completed when the lease this core is asking the database for has come (or not).</summary>
        public TaskCompletionSource? Asking;
        /// <summary>When this core last had the service counted because it was refused a lease (ms, TickCount64).</summary>
        public long CountAskedAt = long.MinValue / 2;
        private long _windowStart;
        private int _current, _previous;

        /// <summary>Counts an offer at <paramref name="now"/> (ms); returns the offers of the last full window or this one, the larger.</summary>
        public int Count(long now)
        {
            var window = (long)OfferLease.Duration.TotalMilliseconds;
            if (now - _windowStart >= window)
            {
                _previous = now - _windowStart < 2 * window ? _current : 0;
                _current = 0;
                _windowStart = now;
            }
            return Math.Max(_previous, ++_current);
        }
    }

    private readonly ConcurrentDictionary<Guid, Demand> _demand = new();

    /// <summary>
    /// Takes an offer token, then reserves the offer's jobs against the pending-jobs quota (counting the service again
    /// when the bound says it is full): which limit refused it, if any, and for the rate the seconds to wait. A busy
    /// service's offers take both from this core's lease when it has them (no statement), and the gate call that
    /// finds none asks for a new lease sized by the offers of the last <see cref="OfferLease.Duration"/>. What an
    /// admitted offer holds is given back or kept by <see cref="EndAsync"/> when its request ends.
    /// </summary>
    public async Task<(Gate Gate, int RetryAfter, Admission? Admission)> EnterAsync(Guid serviceId, Guid offerId, int jobs, EffectiveLimits limits, CancellationToken cancellation)
    {
        var demand = _demand.GetOrAdd(serviceId, static _ => new Demand());
        var now = Environment.TickCount64;
        OfferLease? spent;
        Task? asked = null;
        TaskCompletionSource? asking = null;
        var leaseOffers = 0;
        lock (demand)
        {
            var recent = demand.Count(now);
            if (demand.Lease is { } current && current.TryTake(limits, jobs, now)) return (Gate.Admitted, 0, new Admission(offerId, jobs, current));
            spent = demand.Lease;
            demand.Lease = null;
            // One lease asked for at a time: the offers that come meanwhile wait for it (a gate call's time) rather than
            // each calling the gate, which at the maximum rate queued them on the bucket row again. A second lease would
            // also retire the first with its tokens and places unused until it closes, refusing offers meanwhile.
            if (demand.Asking is { } pending) asked = pending.Task;
            else
            {
                leaseOffers = OfferLease.OffersFor(recent, jobs, limits);
                if (leaseOffers > 1) demand.Asking = asking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        if (spent?.Retire() == true) _ = CloseAsync(spent);
        if (asked is not null)
        {
            await asked.WaitAsync(cancellation);
            lock (demand)
            {
                if (demand.Lease is { } current && current.TryTake(limits, jobs, Environment.TickCount64))
                    return (Gate.Admitted, 0, new Admission(offerId, jobs, current));
            }
        }

        try
        {
            var (gate, retryAfter, lease) = await GateAsync(serviceId, offerId, jobs, limits, leaseOffers, now, cancellation);
            if (lease is not null)
            {
                OfferLease? replaced;
                lock (demand)
                {
                    replaced = demand.Lease; // none: only this request asks for a lease, and it took the last one out
                    demand.Lease = lease;
                }
                if (replaced?.Retire() == true) _ = CloseAsync(replaced);
                _ = ExpireAsync(lease);
            }
            if (gate == Gate.Admitted)
            {
                if (leaseOffers > 1 && lease is null) CountWhenRefusedALease(serviceId, limits, demand);
                return (gate, 0, new Admission(offerId, jobs, lease));
            }
            // Refused by the database, while a lease of this core may have come in meanwhile with what the offer needs.
            lock (demand)
            {
                if (demand.Lease is { } current && current.TryTake(limits, jobs, Environment.TickCount64))
                    return (Gate.Admitted, 0, new Admission(offerId, jobs, current));
            }
            return (gate, retryAfter, null);
        }
        finally
        {
            if (asking is not null)
            {
                lock (demand) demand.Asking = null;
                asking.SetResult();
            }
        }
    }

    /// <summary>How often at most a service refused a lease is counted again for it (<see cref="CountWhenRefusedALease"/>).</summary>
    public const int LeaseRecountSeconds = 5;

    /// <summary>
    /// The bound only ever grows between counts (ended jobs do not lower it), so a busy service's bound passes half its
    /// quota and its leases stop, however few of its jobs are pending, until the bound reaches the quota. A service
    /// refused a lease is counted again in the background instead, at most every <see cref="LeaseRecountSeconds"/> (the
    /// database checks the time of the last count, for every core): a count reads at most the quota's jobs in the
    /// pending-jobs index, and gives the leases back to a service whose jobs do end.
    /// </summary>
    private void CountWhenRefusedALease(Guid serviceId, EffectiveLimits limits, Demand demand)
    {
        var now = Environment.TickCount64;
        lock (demand)
        {
            if (now - demand.CountAskedAt < LeaseRecountSeconds * 1000L) return;
            demand.CountAskedAt = now;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await using var recount = database.CreateCommand($"SELECT {NotificationStore.Schema}.recount_and_reserve($1, $2, 0, $3, $4)");
                foreach (var value in new object[] { serviceId, Guid.Empty, limits.PendingJobs, (double)LeaseRecountSeconds })
                    recount.Parameters.Add(new NpgsqlParameter { Value = value });
                await recount.ExecuteScalarAsync();
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Could not count a service's pending jobs after refusing it a lease");
            }
        });
    }

    /// <summary>The gate's statement, and the recount when the bound says "full"; with the lease it granted, if it did.</summary>
    private async Task<(Gate Gate, int RetryAfter, OfferLease? Lease)> GateAsync(
        Guid serviceId, Guid offerId, int jobs, EffectiveLimits limits, int leaseOffers, long now, CancellationToken cancellation)
    {
        var leaseId = leaseOffers > 1 ? Guid.CreateVersion7() : Guid.Empty;
        // A connection of our own rather than the data source's command: only a command on a connection can be prepared,
        // and this one runs for every offer that finds no lease (PreparedStatements).
        await using (var connection = await database.OpenConnectionAsync(cancellation))
        await using (var command = new NpgsqlCommand($"SELECT wait, reserved, leased FROM {NotificationStore.Schema}.offer_gate($1, $2, $3, $4, $5, $6, $7, $8)", connection))
        {
            foreach (var value in new object[] { serviceId, offerId, limits.OffersPerSecond, (double)limits.Burst, jobs, limits.PendingJobs, leaseId, leaseOffers })
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            await PreparedStatements.PrepareAsync(command, cancellation);
            await using var reader = await command.ExecuteReaderAsync(cancellation);
            await reader.ReadAsync(cancellation);
            var wait = reader.GetDouble(0);
            if (wait > 0) return (Gate.OverRate, (int)Math.Max(1, Math.Ceiling(wait)), null);
            if (reader.GetBoolean(1))
            {
                var leased = reader.GetInt32(2);
                return (Gate.Admitted, 0, leased == 0 ? null
                    : new OfferLease(leaseId, serviceId, limits, leased - 1, leased * jobs - jobs, now + (long)OfferLease.Duration.TotalMilliseconds));
            }
        }
        await using var recount = database.CreateCommand($"SELECT {NotificationStore.Schema}.recount_and_reserve($1, $2, $3, $4, $5)");
        foreach (var value in new object[] { serviceId, offerId, jobs, limits.PendingJobs, (double)RecountSeconds })
            recount.Parameters.Add(new NpgsqlParameter { Value = value });
        if ((bool)(await recount.ExecuteScalarAsync(cancellation))!) return (Gate.Admitted, 0, null);

        // Refused for its quota: the token goes back, so a service held at its quota is not also charged for the refusals
        // (which would turn its next 429 into a rate refusal, with a Retry-After that says nothing about the jobs).
        await using var refund = database.CreateCommand(
            $"UPDATE {NotificationStore.Schema}.offer_rate_buckets SET tokens = least($2, tokens + 1) WHERE service_id = $1");
        refund.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        refund.Parameters.Add(new NpgsqlParameter { Value = (double)limits.Burst });
        await refund.ExecuteNonQueryAsync(cancellation);
        return (Gate.OverQuota, RecountSeconds, null);
    }

    /// <summary>
    /// The admitted offer's request has ended (<paramref name="answered"/>: with its 202). An offer not stored gives its
    /// places back: its own reservation (<see cref="ReleaseAsync"/>), or the places it took from a lease, once the
    /// database says the offer is not there (an answer other than 202 can follow a commit). Its token is spent either way.
    /// </summary>
    public async Task EndAsync(Admission admission, bool answered, CancellationToken cancellation)
    {
        if (admission.Lease is not { } lease)
        {
            if (!answered) await ReleaseAsync(admission.OfferId, cancellation);
            return;
        }
        var placesBack = 0;
        try
        {
            if (!answered && !await OfferStoredAsync(admission.OfferId, cancellation)) placesBack = admission.Jobs;
        }
        finally
        {
            if (lease.Leave(placesBack)) _ = CloseAsync(lease);
        }
    }

    /// <summary>No more offers of this core take from its leases; those with nothing in flight give back what they did not use now.</summary>
    public async Task RetireLeasesAsync()
    {
        var closing = new List<Task>();
        foreach (var demand in _demand.Values)
        {
            OfferLease? lease;
            lock (demand)
            {
                lease = demand.Lease;
                demand.Lease = null;
            }
            if (lease?.Retire() == true) closing.Add(CloseAsync(lease));
        }
        await Task.WhenAll(closing);
    }

    private async Task ExpireAsync(OfferLease lease)
    {
        await Task.Delay(OfferLease.Duration);
        if (lease.Retire()) await CloseAsync(lease);
    }

    /// <summary>
    /// Deletes the lease's reservation and gives back the places and tokens it did not use, in one statement. The places
    /// only if this deleted the row: a recount that found it a minute old deleted it and counted without it. Should this
    /// fail, the row stops counting at a minute old and the unused tokens are lost; both only ever refuse too much.
    /// </summary>
    private async Task CloseAsync(OfferLease lease)
    {
        var (tokens, places) = lease.Unused;
        try
        {
            await using var command = database.CreateCommand($"""
                WITH released AS (
                  DELETE FROM {NotificationStore.Schema}.pending_job_reservations WHERE offer_id = $1 RETURNING service_id),
                given_back AS (
                  UPDATE {NotificationStore.Schema}.pending_job_bounds b SET bound = greatest(0, b.bound - $2)
                  FROM released WHERE b.service_id = released.service_id)
                UPDATE {NotificationStore.Schema}.offer_rate_buckets SET tokens = least($4, tokens + $3) WHERE service_id = $5 AND $3 > 0
                """);
            foreach (var value in new object[] { lease.Id, places, tokens, (double)lease.Limits.Burst, lease.ServiceId })
                command.Parameters.Add(new NpgsqlParameter { Value = value });
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not give back the unused part of an offer lease ({Tokens} tokens, {Places} places)", tokens, places);
        }
    }

    private async Task<bool> OfferStoredAsync(Guid offerId, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"SELECT EXISTS (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_offer WHERE id = $1)");
        command.Parameters.Add(new NpgsqlParameter { Value = offerId });
        return (bool)(await command.ExecuteScalarAsync(cancellation))!;
    }

    /// <summary>
    /// The offer was not stored: its reservation gives its places back. A no-op if its transaction did commit after all
    /// (an answer other than 202 after the commit): a stored offer's jobs count as themselves.
    /// </summary>
    public async Task ReleaseAsync(Guid offerId, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"""
            WITH released AS (
              DELETE FROM {NotificationStore.Schema}.pending_job_reservations
              WHERE offer_id = $1 AND NOT EXISTS (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_offer o WHERE o.id = $1)
              RETURNING service_id, jobs)
            UPDATE {NotificationStore.Schema}.pending_job_bounds b SET bound = greatest(0, b.bound - released.jobs)
            FROM released WHERE b.service_id = released.service_id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = offerId });
        await command.ExecuteNonQueryAsync(cancellation);
    }

    /// <summary>
    /// Deletes the reservations of every service that are claimed (their offer is stored) or abandoned (a minute old,
    /// their core died), skipping rows another core's sweep or a recount is deleting; returns how many it deleted. One
    /// statement for all the offers since the last sweep, instead of a delete in each offer's transaction.
    /// </summary>
    public async Task<int> ClearReservationsAsync(CancellationToken cancellation)
    {
        await using var command = database.CreateCommand(
            LimitsStorage.DeleteReservations($"r.reserved_at < clock_timestamp() - interval '1 minute' OR {LimitsStorage.OfferStored}"));
        return await command.ExecuteNonQueryAsync(cancellation);
    }

    /// <summary>Tokens this core holds in the service's lease (other cores' leases are not seen here).</summary>
    public int LeasedTokens(Guid serviceId) => _demand.TryGetValue(serviceId, out var demand) && demand.Lease is { } lease ? lease.TokensOnHand : 0;

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

    private readonly ConcurrentDictionary<Guid, (DateTimeOffset At, int UpTo, int Count)> _lastPendingCount = new();

    /// <summary>
    /// The service's jobs not yet ended, counted exactly up to <paramref name="upTo"/> (the quota) and one more. Counted
    /// at most once per <see cref="RecountSeconds"/> per service on each core, so polling GET /v1/limits cannot make
    /// PostgreSQL count a large backlog on every request.
    /// </summary>
    public async Task<int> PendingJobsAsync(Guid serviceId, int upTo, CancellationToken cancellation)
    {
        var now = DateTimeOffset.UtcNow;
        if (_lastPendingCount.TryGetValue(serviceId, out var last) && last.UpTo == upTo && now - last.At < TimeSpan.FromSeconds(RecountSeconds))
            return last.Count;
        var count = await CountPendingJobsAsync(serviceId, upTo, cancellation);
        _lastPendingCount[serviceId] = (now, upTo, count);
        return count;
    }

    private async Task<int> CountPendingJobsAsync(Guid serviceId, int upTo, CancellationToken cancellation)
    {
        await using var command = database.CreateCommand($"""
            SELECT count(*)::int FROM (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_job
              WHERE {NotificationStore.PendingJobsPredicate} AND service_id = $1 LIMIT $2) counted
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = serviceId });
        command.Parameters.Add(new NpgsqlParameter { Value = upTo + 1 });
        return (int)(await command.ExecuteScalarAsync(cancellation))!;
    }
}
