using NotificationService.Adapters.Runtime;
using NotificationService.Storage;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// The worker's PostgreSQL role (NS_WORKER_POSTGRES, ns_worker under `./ns test`) against the real database: what a
/// compromised worker host could read or change. Every other worker test runs its workers with this role too, which
/// shows that it is enough for a whole job.
/// </summary>
public sealed class when_a_worker_connects_with_its_role(SystemFixture system) : IntegrationContext(system)
{
    private static string WorkerConnection =>
        Environment.GetEnvironmentVariable("NS_WORKER_POSTGRES") is { Length: > 0 } value && value != TestEnvironment.Postgres
            ? value
            : throw new InvalidOperationException("NS_WORKER_POSTGRES is not set to the worker role's connection: run the tests with ./ns test.");

    [Theory]
    [InlineData("ns.mt_doc_serviceaccount")] // services
    [InlineData("ns.mt_doc_servicekey")]
    [InlineData("ns.mt_doc_offer")]
    [InlineData("ns.mt_doc_adapter")] // every adapter's encrypted config
    [InlineData("ns.mt_doc_idempotentrequest")]
    [InlineData("ns.mt_doc_invite")]
    [InlineData("wolverine.wolverine_incoming_envelopes")] // the core's envelopes
    [InlineData("wolverine.wolverine_outgoing_envelopes")]
    public async Task it_cannot_read_what_is_not_a_workers(string table)
    {
        var refused = await Assert.ThrowsAsync<PostgresException>(() => AsWorkerAsync<long>($"SELECT count(*) FROM {table}"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }

    [Fact]
    public async Task it_sees_only_job_events_and_may_change_no_table_or_schema()
    {
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "role@example.test") } });
        await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id);

        // The adapters' and services' streams hold encrypted configs and key hashes: there for the owner, not for the worker.
        Assert.True(await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_events WHERE type NOT LIKE 'job\\_%'") > 0);
        Assert.Equal(0, await AsWorkerAsync<long>("SELECT count(*) FROM ns.mt_events WHERE type NOT LIKE 'job\\_%' AND type <> 'tombstone'"));
        Assert.True(await AsWorkerAsync<long>($"SELECT count(*) FROM ns.mt_events WHERE stream_id = '{offer.Jobs[0].Id}'") >= 3);
        Assert.Equal(0, await AsWorkerAsync<long>("SELECT count(*) FROM ns.mt_streams WHERE type <> 'job'"));

        foreach (var ddl in new[]
        {
            "CREATE TABLE ns.planted (id int)", "ALTER TABLE ns.mt_doc_job ADD COLUMN planted int", "DROP TABLE ns.mt_doc_job",
            "CREATE FUNCTION ns.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'", "CREATE SCHEMA planted",
            "UPDATE ns.mt_doc_dataprotectionkey SET data = data", "DELETE FROM ns.mt_events",
        })
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => AsWorkerAsync<int>(ddl));
            Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{ddl}: {refused.SqlState}");
        }
    }

    [Fact]
    public async Task it_may_append_job_events_to_job_streams_only()
    {
        // An adapter's stream (its history) is not a job's: a job event appended there would take the version the core's
        // next change of the adapter needs.
        var adapterStream = System.Email.Id;
        var version = await Sql.ScalarAsync<long>($"SELECT max(version) FROM ns.mt_events WHERE stream_id = '{adapterStream}'");
        var refused = await Assert.ThrowsAsync<PostgresException>(() => AsWorkerAsync<int>($$"""
            INSERT INTO ns.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, is_archived)
            VALUES (nextval('ns.mt_events_sequence'), gen_random_uuid(), '{{adapterStream}}', {{version + 1}}, '{}', 'job_finished',
                    now(), '*DEFAULT*', 'NotificationService.Storage.Jobs.JobFinished', false)
            """));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState); // new row violates row-level security policy
    }

    [Fact]
    public async Task its_adapter_lookup_answers_for_its_own_key_only()
    {
        var other = await System.CreateEmailAdapterAsync($"other-{Guid.NewGuid():N}"[..22], System.Smtp.Port);

        Assert.Equal(System.Email.Id.ToString(), await AsWorkerAsync<string>($"SELECT data ->> 'id' FROM ns.adapter_for_key('{ApiKeys.Hash(System.Email.ApiKey)}')"));
        // A key it does not hold has a hash it cannot read anywhere; a guessed one, or none, finds nothing.
        Assert.Equal(0, await AsWorkerAsync<long>($"SELECT count(*) FROM ns.adapter_for_key('{ApiKeys.Hash(ApiKeys.New(ApiKeys.AdapterPrefix))}')"));
        Assert.Equal(0, await AsWorkerAsync<long>("SELECT (SELECT count(*) FROM ns.adapter_for_key('')) + (SELECT count(*) FROM ns.adapter_for_key(NULL))"));
        Assert.Equal(0, await AsWorkerAsync<long>($"SELECT count(*) FROM ns.adapter_for_key('{other.Id}')"));
        Assert.Equal(other.Id.ToString(), await Sql.ScalarAsync<string>($"SELECT data ->> 'id' FROM ns.adapter_for_key('{ApiKeys.Hash(other.ApiKey)}')"));
    }

    [Fact]
    public async Task it_writes_and_removes_heartbeats_only_of_the_adapter_whose_key_it_holds()
    {
        var other = await System.CreateEmailAdapterAsync($"other-{Guid.NewGuid():N}"[..22], System.Smtp.Port);
        var (own, others) = (ApiKeys.Hash(System.Email.ApiKey), ApiKeys.Hash(other.ApiKey));
        var node = $"node-{Guid.NewGuid():N}"[..16];
        string Beat(string keyHash, string host) => $"SELECT ns.worker_heartbeat('{keyHash}', '{node}', '{host}', 'v1', 2, 0) IS TRUE";
        string HostOf(Guid adapter) => $"SELECT host FROM ns.worker_heartbeats WHERE adapter_id = '{adapter}' AND node = '{node}'";
        try
        {
            Assert.True(await AsWorkerAsync<bool>(Beat(others, "theirs")));
            // The same node name under its own key: a row of its own adapter; the other adapter's row is not touched.
            Assert.True(await AsWorkerAsync<bool>(Beat(own, "mine")));
            Assert.Equal("theirs", await Sql.ScalarAsync<string>(HostOf(other.Id)));
            Assert.Equal("mine", await Sql.ScalarAsync<string>(HostOf(System.Email.Id)));
            // A key it does not hold (a guessed hash, an adapter id) writes nothing.
            Assert.False(await AsWorkerAsync<bool>(Beat(ApiKeys.Hash(ApiKeys.New(ApiKeys.AdapterPrefix)), "guess")));
            Assert.False(await AsWorkerAsync<bool>(Beat(other.Id.ToString(), "guess")));

            // Removing: its own row goes, the other adapter's stays.
            Assert.True(await AsWorkerAsync<bool>($"SELECT ns.worker_gone('{own}', '{node}') IS TRUE"));
            Assert.Equal(0L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.worker_heartbeats WHERE adapter_id = '{System.Email.Id}' AND node = '{node}'"));
            Assert.Equal("theirs", await Sql.ScalarAsync<string>(HostOf(other.Id)));

            // The table itself is not the worker's at all: every row goes through the functions.
            foreach (var sql in new[]
            {
                "SELECT count(*) FROM ns.worker_heartbeats",
                $"UPDATE ns.worker_heartbeats SET host = 'x' WHERE node = '{node}'",
                $"DELETE FROM ns.worker_heartbeats WHERE node = '{node}'",
                $"INSERT INTO ns.worker_heartbeats VALUES ('{other.Id}', 'planted', 'h', 'v', 1, 0, now(), now())",
            })
            {
                var refused = await Assert.ThrowsAsync<PostgresException>(() => AsWorkerAsync<object>(sql));
                Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {refused.SqlState}");
            }
        }
        finally { await Sql.ExecuteAsync($"DELETE FROM ns.worker_heartbeats WHERE node = '{node}'"); }
    }

    [Fact]
    public async Task a_worker_that_starts_before_the_core_has_made_the_store_stops_with_a_reason()
    {
        // A database the core has never migrated (PostgreSQL's own maintenance database): no schema, no lookup function.
        var unmigrated = new NpgsqlConnectionStringBuilder(WorkerConnection) { Database = "postgres" }.ConnectionString;
        var refused = await Assert.ThrowsAsync<WorkerStartupException>(() =>
            AdapterRegistration.LoadAsync(unmigrated, System.Email.ApiKey, "email", wait: TimeSpan.FromSeconds(1)));
        Assert.Contains("start the core once first", refused.Message);
    }

    private static async Task<T> AsWorkerAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(WorkerConnection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
