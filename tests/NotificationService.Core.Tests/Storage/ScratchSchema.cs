using Marten;
using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// The service's Marten configuration on a schema of a test's own, so that a test can leave a table in an older shape and
/// migrate it without touching the store the other tests share; the schema is dropped when the test ends.
/// </summary>
public sealed class ScratchSchema(string prefix, Action<StoreOptions>? configure = null) : IAsyncDisposable
{
    private readonly List<DocumentStore> _stores = [];

    public string Name { get; } = $"{prefix}_{Guid.NewGuid():N}";

    /// <summary>A new store on the schema, as a process starting on it builds one (each call: another start).</summary>
    public DocumentStore Store()
    {
        var store = DocumentStore.For(opts =>
        {
            opts.UseNotificationStore(ScratchTable.Postgres);
            opts.DatabaseSchemaName = Name;
            // Tables named in the service's own schema (send slots, worker heartbeats), which the test host migrates.
            opts.Storage.ExtendedSchemaObjects.Clear();
            configure?.Invoke(opts);
        });
        _stores.Add(store);
        return store;
    }

    public Task ExecuteAsync(string sql, params object[] values) => ScratchTable.RunAsync(sql, values);

    public async Task<List<string>> IndexDefinitionsAsync(string table)
    {
        await using var connection = new NpgsqlConnection(ScratchTable.Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = Name });
        command.Parameters.Add(new NpgsqlParameter { Value = table });
        var definitions = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) definitions.Add(reader.GetString(0));
        return definitions;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores) store.Dispose();
        await ExecuteAsync($"DROP SCHEMA IF EXISTS {Name} CASCADE");
    }
}
