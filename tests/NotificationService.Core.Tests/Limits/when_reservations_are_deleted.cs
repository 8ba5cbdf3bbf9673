using System.Text.Json.Nodes;
using Npgsql;
using NotificationService.Core.Limits;
using NotificationService.Core.Tests.Storage;
using NotificationService.Storage;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Limits;

/// <summary>
/// The reservations table is emptied every two seconds, so its statistics can count one row while a busy service has put
/// thousands in it. The sweep's and the recount's delete must lock their rows in one pass, and look each offer up by its
/// key, whatever the statistics say (bench/README.md, "Reservations deleted in quadratic time").
/// </summary>
public sealed class when_reservations_are_deleted(SystemFixture system) : IntegrationContext(system)
{
    private const int Reservations = 300;

    [Fact]
    public async Task the_rows_are_locked_in_one_pass_however_few_the_statistics_say_there_are()
    {
        var service = Guid.NewGuid();
        await using var database = await RolledBack.BeginAsync();

        // One row left of a busy moment's reservations, and the statistics taken then: pages of dead rows, one live. (The
        // delete also takes other tests' leftover rows, until the rollback; the sweep is off in tests.)
        await database.RunAsync(Insert(Guid.NewGuid(), 2000));
        await database.RunAsync("DELETE FROM ns.pending_job_reservations WHERE ctid <> (SELECT min(ctid) FROM ns.pending_job_reservations)");
        await database.RunAsync("ANALYZE ns.pending_job_reservations");
        Assert.Equal(1f, await database.RunAsync("SELECT reltuples FROM pg_class WHERE oid = 'ns.pending_job_reservations'::regclass"));
        // Then a busy service's reservations, none of them due (no offer stored, none a minute old): nothing to delete,
        // and every row read.
        await database.RunAsync(Insert(service, Reservations));

        var plan = await database.PlanAsync("EXPLAIN (ANALYZE, FORMAT JSON) " + LimitsStorage.DeleteReservations(
            $"r.service_id = '{service}' AND (r.reserved_at < clock_timestamp() - interval '1 minute' OR {LimitsStorage.OfferStored})"));

        var locking = Assert.Single(plan, n => (string?)n["Node Type"] == "LockRows");
        Assert.Equal(1, (int)locking["Actual Loops"]!);
    }

    [Fact]
    public async Task each_offer_is_looked_up_by_its_key_however_many_reservations_the_statistics_say_there_are()
    {
        await using var database = await RolledBack.BeginAsync();

        // On copies of the two tables in a schema of this transaction's own. The shared test database's offers table holds
        // a handful of rows, where a full scan of any index that has the id costs what a probe of the key does, and the
        // planner once took the (service, created, id) index for it (CI, 2026-12-06). Here the offers are many, as they are
        // wherever the sweep runs, and both tables' statistics are the copies' own.
        var schema = $"reservations_{Guid.NewGuid():N}";
        await database.RunAsync($"CREATE SCHEMA {schema}");
        foreach (var table in new[] { "mt_doc_offer", "pending_job_reservations" })
            await database.RunAsync($"CREATE TABLE {schema}.{table} (LIKE {NotificationStore.Schema}.{table} INCLUDING DEFAULTS INCLUDING INDEXES)");
        await database.RunAsync($"INSERT INTO {schema}.mt_doc_offer (id, data, mt_dotnet_type, service_id, created_at) " +
                                "SELECT gen_random_uuid(), '{}', 'offer', gen_random_uuid(), clock_timestamp() FROM generate_series(1, 20000)");
        // Statistics taken at a busy moment. PostgreSQL then hashed every offer's id for an EXISTS on the offers (a read
        // of the whole table at each sweep) rather than look up each reservation's offer.
        await database.RunAsync(Insert(Guid.NewGuid(), 5000, schema));
        await database.RunAsync($"ANALYZE {schema}.mt_doc_offer, {schema}.pending_job_reservations");

        var plan = await database.PlanAsync("EXPLAIN (FORMAT JSON) " + LimitsStorage.DeleteReservations(
                $"r.reserved_at < clock_timestamp() - interval '1 minute' OR {LimitsStorage.OfferStored}")
            .Replace($"{NotificationStore.Schema}.mt_doc_offer", $"{schema}.mt_doc_offer")
            .Replace($"{NotificationStore.Schema}.pending_job_reservations", $"{schema}.pending_job_reservations"));

        var lookup = Assert.Single(plan, n => (string?)n["Relation Name"] == "mt_doc_offer");
        Assert.Equal("SubPlan", (string?)lookup["Parent Relationship"]);
        // The copy's primary key (the offers' id), not another index that holds the id.
        Assert.Equal(await database.RunAsync($"SELECT conname::text FROM pg_constraint WHERE conrelid = '{schema}.mt_doc_offer'::regclass AND contype = 'p'"),
            (string?)lookup["Index Name"]);
        Assert.Equal("r.offer_id", ((string?)lookup["Index Cond"])?.Split(" = ")[1].TrimEnd(')'));
        var reservations = Assert.Single(plan, n => (string?)n["Alias"] == "r");
        Assert.DoesNotContain("hashed SubPlan", (string?)reservations["Filter"]);
    }

    private static string Insert(Guid serviceId, int rows, string schema = NotificationStore.Schema) => $"""
        INSERT INTO {schema}.pending_job_reservations (offer_id, service_id, jobs, reserved_at)
        SELECT gen_random_uuid(), '{serviceId}', 1, clock_timestamp() FROM generate_series(1, {rows})
        """;

    /// <summary>
    /// A transaction on the shared database, rolled back at the end: all of it but pg_class's reltuples and relpages, which
    /// ANALYZE writes in place (later tests see them until autovacuum counts again). On a connection as the service opens
    /// them (its random_page_cost), with sequential scans priced out, so a near-empty table of the test database cannot
    /// make one cheapest where the service would probe an index.
    /// </summary>
    private sealed class RolledBack(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public static async Task<RolledBack> BeginAsync()
        {
            var connection = new NpgsqlConnection(NotificationStore.PooledConnectionString(TestEnvironment.Postgres));
            await connection.OpenAsync();
            var rolledBack = new RolledBack(connection, await connection.BeginTransactionAsync());
            await rolledBack.RunAsync("SET LOCAL enable_seqscan = off");
            return rolledBack;
        }

        public async Task<object?> RunAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            return await command.ExecuteScalarAsync();
        }

        /// <summary>Every node of an EXPLAIN (FORMAT JSON)'s plan, subplans included.</summary>
        public async Task<List<JsonNode>> PlanAsync(string explain) => QueryPlans.Nodes((string)(await RunAsync(explain))!);

        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await connection.DisposeAsync();
        }
    }
}
