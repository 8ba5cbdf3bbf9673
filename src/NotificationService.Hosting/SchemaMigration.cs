using Marten;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace NotificationService.Hosting;

/// <summary>
/// The core's schema migration at start-up, on a connection without a command timeout. Marten runs its migration as one
/// command on the store's own connections, whose timeout (Npgsql's 30 s) suits requests; an upgrade that adds a column to
/// the job table fills it from every stored job, about a minute per column for a million jobs on the development machine,
/// and the core then failed to start, with the migration rolled back, at every attempt (README, "Upgrading").
/// </summary>
public sealed class SchemaMigration(string postgres, Action<StoreOptions, string> configure) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var unbounded = new NpgsqlConnectionStringBuilder(postgres) { CommandTimeout = 0 }.ConnectionString;
        await using var store = DocumentStore.For(opts => configure(opts, unbounded));
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
