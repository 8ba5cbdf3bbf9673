using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NotificationService.Hosting;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// Marten's hook before a statement runs is synchronous, so <see cref="PreparedStatements"/> blocks a thread for the first
/// use of a statement on each connection, and on Linux the socket's answer can need another pool thread to hand it over.
/// Unbounded, the blocked threads filled the pool and the core stood still for 8-20 s at a time once callbacks ran beside
/// the offers (bench/README.md, "Callbacks: a thread-pool stall"). So only as many threads as there are slots block in a
/// prepare, the others run their statement unprepared, and the pool keeps room above the slots.
/// </summary>
public sealed class when_statements_are_prepared_in_martens_hook : IAsyncLifetime
{
    private readonly ScratchTable _rows = new("preparing", "id bigint PRIMARY KEY");

    public Task InitializeAsync() => _rows.CreateAsync();

    public Task DisposeAsync() => _rows.DropAsync();

    [Fact]
    public void the_thread_pool_keeps_a_thread_per_core_beyond_those_that_may_block_in_a_prepare()
    {
        new ServiceCollection().AddNotificationMarten("Host=127.0.0.1;Port=27432;Database=ns_test;Username=ns_core", "wolverine");

        ThreadPool.GetMinThreads(out var workers, out _);
        var needed = PreparedStatements.Slots.Max + Environment.ProcessorCount;
        Assert.True(workers >= needed, $"{workers} threads without delay, {needed} needed");
    }

    [Fact]
    public async Task no_more_threads_than_the_slots_wait_in_a_prepare_and_the_others_go_on_unprepared()
    {
        const int callers = 5;
        // Slots of its own, so the prepares of the core running in this test process cannot take them meanwhile.
        var slots = new PrepareSlots(2);
        var sql = $"SELECT id FROM {_rows.Name} WHERE id = $1";
        await using var database = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(NotificationStore.PooledConnectionString(ScratchTable.Postgres, "1.1"))
            { MaxPoolSize = callers + 2 }.ConnectionString);
        NpgsqlBatch Select(NpgsqlConnection connection) => new(connection) { BatchCommands = { new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = 1L } } } } };

        // A statement is prepared from its third use on: two uses first, which send nothing.
        await using (var warm = await database.OpenConnectionAsync())
            for (var i = 0; i < PreparedStatements.UsesBeforePreparing - 1; i++) PreparedStatements.Prepare(Select(warm), enabled: true, slots);

        // Parsing a statement waits for a lock on its table, so while this transaction holds one every prepare of the
        // statement blocks its thread, as a slow round trip would.
        await using var locker = await database.OpenConnectionAsync();
        await using var lockHeld = await locker.BeginTransactionAsync();
        var failures = new ConcurrentQueue<Exception>();
        var wentOn = new bool[callers];
        var prepared = new bool[callers];
        using var returnedWhileLocked = new SemaphoreSlim(0);
        var locked = true;
        List<Thread> threads;
        try
        {
            await new NpgsqlCommand($"LOCK TABLE {_rows.Name} IN ACCESS EXCLUSIVE MODE", locker, lockHeld).ExecuteNonQueryAsync();
            // Threads of their own, so the callers that block take none of the pool's.
            threads = Enumerable.Range(0, callers).Select(i => new Thread(() =>
            {
                try
                {
                    using var connection = database.OpenConnection();
                    using var batch = Select(connection);
                    PreparedStatements.Prepare(batch, enabled: true, slots);
                    if (Volatile.Read(ref locked))
                    {
                        wentOn[i] = true;
                        returnedWhileLocked.Release();
                    }
                    using var asked = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", connection) { Parameters = { new() { Value = sql } } };
                    prepared[i] = (long)asked.ExecuteScalar()! > 0;
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            }) { IsBackground = true }).ToList();
            threads.ForEach(t => t.Start());

            // Without the bound every caller waits for the lock and none returns.
            for (var i = 0; i < callers - slots.Max; i++)
                Assert.True(await returnedWhileLocked.WaitAsync(TimeSpan.FromSeconds(30)),
                    $"{i} of {callers} callers returned while the table was locked; all but {slots.Max} should have");
        }
        finally
        {
            Volatile.Write(ref locked, false);
            await lockHeld.RollbackAsync();
        }

        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(30)), "a caller still waits after the lock was released"));
        Assert.Empty(failures);
        // Exactly the callers that waited for the lock prepared the statement; the others ran it unprepared.
        Assert.Equal(callers - slots.Max, wentOn.Count(w => w));
        Assert.All(Enumerable.Range(0, callers), i => Assert.NotEqual(wentOn[i], prepared[i]));
    }

    [Fact]
    public async Task a_statement_already_prepared_on_its_connection_runs_prepared_when_every_slot_is_taken()
    {
        var slots = new PrepareSlots(1);
        var sql = $"SELECT id FROM {_rows.Name} WHERE id = $1";
        await using var database = NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(ScratchTable.Postgres, "1.1"));
        NpgsqlBatch Select(NpgsqlConnection connection) => new(connection) { BatchCommands = { new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = 1L } } } } };
        // How often the connection's prepared statement of that text ran: null when it has none.
        async Task<long?> RunsPrepared(NpgsqlConnection connection)
        {
            await using var asked = new NpgsqlCommand("SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement = $1", connection)
                { Parameters = { new() { Value = sql } } };
            return await asked.ExecuteScalarAsync() as long?;
        }
        async Task UseAsync(NpgsqlConnection connection)
        {
            await using var batch = Select(connection);
            PreparedStatements.Prepare(batch, enabled: true, slots);
            await batch.ExecuteScalarAsync();
        }

        await using var connection = await database.OpenConnectionAsync();
        for (var i = 0; i < PreparedStatements.UsesBeforePreparing; i++) await UseAsync(connection);
        Assert.Equal(1L, await RunsPrepared(connection)); // the third use prepared it

        // As when the thread holding the only slot was descheduled in the middle of its prepare.
        Assert.True(slots.TryTake());
        try
        {
            await UseAsync(connection);
            Assert.Equal(2L, await RunsPrepared(connection)); // prepared here already: no round trip to wait for, so no slot needed

            // Where it was never prepared, preparing would block on a round trip: without a slot it runs unprepared once.
            await using var other = await database.OpenConnectionAsync();
            await UseAsync(other);
            Assert.Null(await RunsPrepared(other));
        }
        finally
        {
            slots.Return();
        }
    }

    [Fact]
    public async Task a_statement_planned_each_time_is_never_prepared_however_often_it_runs()
    {
        var slots = new PrepareSlots(1);
        var repeated = $"SELECT id FROM {_rows.Name} WHERE id = $1";
        var plannedEachTime = repeated + PreparedStatements.PlannedEachTime;
        await using var database = NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(ScratchTable.Postgres, "1.1"));
        await using var connection = await database.OpenConnectionAsync();
        async Task UseAsync(string sql)
        {
            await using var batch = new NpgsqlBatch(connection) { BatchCommands = { new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = 1L } } } } };
            PreparedStatements.Prepare(batch, enabled: true, slots);
            await batch.ExecuteScalarAsync();
        }
        async Task<bool> PreparedAsync(string sql)
        {
            await using var asked = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", connection) { Parameters = { new() { Value = sql } } };
            return (long)(await asked.ExecuteScalarAsync())! > 0;
        }

        // Past the uses that would prepare any other statement.
        for (var i = 0; i < PreparedStatements.UsesBeforePreparing + 5; i++)
        {
            await UseAsync(plannedEachTime);
            await UseAsync(repeated);
        }

        Assert.False(await PreparedAsync(plannedEachTime));
        Assert.True(await PreparedAsync(repeated)); // the same statement without the mark, as the control
    }

    [Fact]
    public async Task after_its_table_changed_under_it_a_statement_is_prepared_again_only_with_a_slot()
    {
        var slots = new PrepareSlots(1);
        var sql = $"SELECT * FROM {_rows.Name} WHERE id = $1";
        await using var database = NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(ScratchTable.Postgres, "1.1"));
        async Task UseAsync(NpgsqlConnection connection)
        {
            await using var batch = new NpgsqlBatch(connection) { BatchCommands = { new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = 1L } } } } };
            PreparedStatements.Prepare(batch, enabled: true, slots);
            await batch.ExecuteScalarAsync();
        }
        async Task<DateTime?> PreparedAt(NpgsqlConnection connection)
        {
            await using var asked = new NpgsqlCommand("SELECT max(prepare_time) FROM pg_prepared_statements WHERE statement = $1", connection)
                { Parameters = { new() { Value = sql } } };
            return await asked.ExecuteScalarAsync() as DateTime?;
        }

        await using var connection = await database.OpenConnectionAsync();
        for (var i = 0; i < PreparedStatements.UsesBeforePreparing; i++) await UseAsync(connection);
        var preparedAt = await PreparedAt(connection);
        Assert.NotNull(preparedAt);

        // A migration while the process runs: PostgreSQL refuses the prepared statement once (0A000), the logger hears of it.
        await using (var migration = await database.OpenConnectionAsync())
        await using (var alter = new NpgsqlCommand($"ALTER TABLE {_rows.Name} ADD COLUMN added int", migration))
            await alter.ExecuteNonQueryAsync();
        var refused = await Assert.ThrowsAsync<PostgresException>(() => UseAsync(connection));
        Assert.Equal(PostgresErrorCodes.FeatureNotSupported, refused.SqlState);
        PreparedStatements.Failed(new InvalidOperationException("as Marten wraps it", refused));

        // Npgsql would prepare it again on this use, a round trip: without a slot it runs unprepared instead.
        Assert.True(slots.TryTake());
        try
        {
            await UseAsync(connection);
            Assert.Equal(preparedAt, await PreparedAt(connection));
        }
        finally
        {
            slots.Return();
        }
        await UseAsync(connection);
        Assert.True(await PreparedAt(connection) > preparedAt, "with a slot free it is prepared again");
    }
}
