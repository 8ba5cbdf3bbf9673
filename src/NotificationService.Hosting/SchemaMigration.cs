using System.Diagnostics;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace NotificationService.Hosting;

/// <summary>
/// The core's schema migration at start-up, on a connection without a command timeout. Marten runs its migration as one
/// command on the store's own connections, whose timeout (Npgsql's 30 s) suits requests; an upgrade that adds a column to
/// the job table fills it from every stored job, about half a minute per column for a million jobs on the development
/// machine, and the core then failed to start, with the migration rolled back, at every attempt (README, "Upgrading").
/// Without a timeout a start also waits for any lock on the tables it changes (a process of the previous version still
/// running), so it says what it is doing.
/// </summary>
public sealed partial class SchemaMigration(string postgres, Action<StoreOptions, string> configure, ILogger<SchemaMigration> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var unbounded = new NpgsqlConnectionStringBuilder(postgres) { CommandTimeout = 0 }.ConnectionString;
        await using var store = DocumentStore.For(opts => configure(opts, unbounded));
        Migrating(logger);
        var started = Stopwatch.GetTimestamp();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        Migrated(logger, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Information, "Bringing the database schema up to date (an upgrade may take minutes on a large job table)")]
    private static partial void Migrating(ILogger logger);

    [LoggerMessage(LogLevel.Information, "The database schema is up to date ({DurationMs} ms)")]
    private static partial void Migrated(ILogger logger, long durationMs);
}
