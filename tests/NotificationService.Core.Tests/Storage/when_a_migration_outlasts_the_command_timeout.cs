using Marten;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NotificationService.Hosting;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// An upgrade's migration can take minutes (filling a new column of the job table from a million jobs took about 100 s),
/// far longer than the command timeout of the store's connections: the core's start runs it on a connection without one
/// (SchemaMigration), ahead of Marten's own migration. Here the migration waits for a lock another session holds for 3 s,
/// against a connection string whose command timeout is 1 s.
/// </summary>
public sealed class when_a_migration_outlasts_the_command_timeout : IAsyncLifetime
{
    private readonly ScratchSchema _schema = new("slow_migration");
    private readonly string _oneSecond = new NpgsqlConnectionStringBuilder(ScratchTable.Postgres) { CommandTimeout = 1 }.ConnectionString;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _schema.DisposeAsync();

    private void Configure(StoreOptions opts, string connectionString)
    {
        opts.UseNotificationStore(connectionString);
        opts.DatabaseSchemaName = _schema.Name;
        opts.Storage.ExtendedSchemaObjects.Clear();
    }

    [Fact]
    public async Task the_cores_migration_waits_it_out_where_the_stores_own_connection_gives_up()
    {
        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // An index the configuration does not have: the migration drops it, which needs the table to itself.
        await _schema.ExecuteAsync($"CREATE INDEX mt_doc_job_idx_leftover ON {_schema.Name}.mt_doc_job (mt_version)");

        // Marten's own migration on the store's connections, with a 1 s timeout, gives up while the lock is held.
        var held = HoldTableAsync(TimeSpan.FromSeconds(3));
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        using (var store = DocumentStore.For(opts => Configure(opts, _oneSecond)))
            await Assert.ThrowsAnyAsync<Exception>(() => store.Storage.ApplyAllConfiguredChangesToDatabaseAsync());
        await held;
        Assert.Contains(await _schema.IndexDefinitionsAsync("mt_doc_job"), d => d.Contains("mt_doc_job_idx_leftover"));

        // The core's start-up migration, given the same connection string, waits for the lock and completes.
        held = HoldTableAsync(TimeSpan.FromSeconds(3));
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await new SchemaMigration(_oneSecond, Configure, NullLogger<SchemaMigration>.Instance).StartAsync(CancellationToken.None);
        await held;
        Assert.DoesNotContain(await _schema.IndexDefinitionsAsync("mt_doc_job"), d => d.Contains("mt_doc_job_idx_leftover"));
    }

    /// <summary>Another session reading the job table in a transaction that stays open for <paramref name="time"/>.</summary>
    private async Task HoldTableAsync(TimeSpan time)
    {
        await using var connection = new NpgsqlConnection(ScratchTable.Postgres);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand($"LOCK TABLE {_schema.Name}.mt_doc_job IN ACCESS SHARE MODE", connection, transaction))
            await command.ExecuteNonQueryAsync();
        await Task.Delay(time);
        await transaction.CommitAsync();
    }
}
