using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NotificationService.Hosting;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// Marten's hook before a statement runs is synchronous, so <see cref="PreparedStatements"/> blocks a thread for the first
/// use of a statement on each connection, and on Linux the socket's answer can need another pool thread to hand it over.
/// Unbounded, the blocked threads filled the pool and the core stood still for 8-20 s at a time once callbacks ran beside
/// the offers (bench/README.md, "Callbacks: a thread-pool stall"). So at most <see cref="PreparedStatements.MaxPreparingThreads"/>
/// threads block in a prepare, the others run their statement unprepared, and the pool keeps room above them.
/// <para>In the system's collection, so no other test's traffic takes the slots meanwhile (its core's prepares share them).</para>
/// </summary>
[Collection(nameof(SystemCollection))]
public sealed class when_statements_are_prepared_in_martens_hook : IAsyncLifetime
{
    private static readonly string Postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
                                              ?? "Host=127.0.0.1;Port=55432;Database=postgres;Username=postgres";

    // A table of this test's own, and so a statement text new to PreparedStatements' process-wide counts.
    private readonly string _schema = $"preparing_{Guid.NewGuid():N}";
    private string Table => $"{_schema}.rows";

    public async Task InitializeAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await new NpgsqlCommand($"CREATE SCHEMA {_schema}; CREATE TABLE {Table} (id bigint PRIMARY KEY)", connection).ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await new NpgsqlCommand($"DROP SCHEMA IF EXISTS {_schema} CASCADE", connection).ExecuteNonQueryAsync();
    }

    [Fact]
    public void the_thread_pool_keeps_a_thread_per_core_beyond_those_that_may_block_in_a_prepare()
    {
        new ServiceCollection().AddNotificationMarten($"Host=127.0.0.1;Port=55432;Database=ns_test;Username=ns_core", "wolverine");

        ThreadPool.GetMinThreads(out var workers, out _);
        var needed = PreparedStatements.MaxPreparingThreads + Environment.ProcessorCount;
        Assert.True(workers >= needed, $"{workers} threads without delay, {needed} needed");
    }

    [Fact]
    public async Task no_more_threads_than_the_bound_wait_in_a_prepare_and_the_others_go_on_unprepared()
    {
        var sql = $"SELECT id FROM {Table} WHERE id = $1";
        await using var database = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(NotificationStore.PooledConnectionString(Postgres, "1.1"))
            { MaxPoolSize = PreparedStatements.MaxPreparingThreads + 10 }.ConnectionString);
        NpgsqlBatch Select(NpgsqlConnection connection) => new(connection) { BatchCommands = { new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = 1L } } } } };

        // A statement is prepared from its third use on: two uses first, which send nothing.
        await using (var warm = await database.OpenConnectionAsync())
            for (var i = 0; i < PreparedStatements.UsesBeforePreparing - 1; i++) PreparedStatements.Prepare(Select(warm), enabled: true);

        // Parsing a statement waits for a lock on its table, so while this transaction holds one every prepare of the
        // statement blocks its thread, as a slow round trip would.
        await using var locker = await database.OpenConnectionAsync();
        await using var lockHeld = await locker.BeginTransactionAsync();
        await new NpgsqlCommand($"LOCK TABLE {Table} IN ACCESS EXCLUSIVE MODE", locker, lockHeld).ExecuteNonQueryAsync();

        var callers = PreparedStatements.MaxPreparingThreads + 3;
        var returned = 0;
        var prepared = new bool[callers];
        // Threads of their own, so the test's blocked callers take none of the pool's.
        var threads = Enumerable.Range(0, callers).Select(i => new Thread(() =>
        {
            using var connection = database.OpenConnection();
            using var batch = Select(connection);
            PreparedStatements.Prepare(batch, enabled: true);
            Interlocked.Increment(ref returned);
            using var asked = new NpgsqlCommand("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", connection) { Parameters = { new() { Value = sql } } };
            prepared[i] = (long)asked.ExecuteScalar()! > 0;
        })).ToList();
        threads.ForEach(t => t.Start());

        // Without the bound every caller waits for the lock and none returns.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref returned) < callers - PreparedStatements.MaxPreparingThreads && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(Volatile.Read(ref returned) >= callers - PreparedStatements.MaxPreparingThreads,
            $"{Volatile.Read(ref returned)} of {callers} callers returned while the table was locked; all but {PreparedStatements.MaxPreparingThreads} should have");

        await lockHeld.RollbackAsync();
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(30)), "a caller still waits after the lock was released"));
        // The callers that waited did prepare the statement; those that went on did not.
        Assert.InRange(prepared.Count(p => p), 1, PreparedStatements.MaxPreparingThreads);
    }
}
