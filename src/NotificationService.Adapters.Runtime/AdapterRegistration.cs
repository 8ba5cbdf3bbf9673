using Marten;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;

namespace NotificationService.Adapters.Runtime;

/// <summary>Thrown at start-up for a problem the operator must fix; the worker prints the message and exits non-zero.</summary>
public sealed class WorkerStartupException(string message, Exception? inner = null) : Exception(message, inner);

public static class AdapterRegistration
{
    /// <summary>Marten wraps driver errors; what the operator needs to hear about is the innermost one of its kind.</summary>
    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException) if (e is T found) return found;
        return null;
    }

    /// <summary>
    /// Finds the adapter by the hash of the key the worker was started with, through <c>ns.adapter_for_key</c> (a worker's
    /// role may not read the adapters table). Waits a bounded time for PostgreSQL, so a worker started together with the
    /// database does not fail for being a second too early.
    /// </summary>
    public static async Task<Adapter> LoadAsync(string postgres, string key, string expectedType, TimeSpan wait, CancellationToken ct = default)
    {
        // Only for its serializer, which reads the document as the core wrote it; it never touches the schema.
        using var store = DocumentStore.For(opts =>
        {
            opts.UseNotificationStore(postgres);
            opts.AutoCreateSchemaObjects = JasperFx.AutoCreate.None;
        });
        await using var database = Npgsql.NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(postgres));
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                var adapter = await WorkerRole.AdapterForKeyAsync(database, store.Options.Serializer(), ApiKeys.Hash(key), ct);
                if (adapter is null) throw new WorkerStartupException("No adapter is registered for this Adapter:Key (unknown key, or the adapter was deleted).");
                if (!string.Equals(adapter.Type, expectedType, StringComparison.OrdinalIgnoreCase))
                    throw new WorkerStartupException($"Adapter '{adapter.Name}' is of type '{adapter.Type}', but this worker delivers '{expectedType}'.");
                return adapter;
            }
            catch (Exception e) when (Find<Npgsql.PostgresException>(e) is { SqlState: "42P01" or "42883" or "3F000" })
            {
                throw new WorkerStartupException("The notification store is not set up yet (no adapters table or lookup function): start the core once first.", e);
            }
            catch (Exception e) when (Find<Npgsql.PostgresException>(e) is { SqlState: "42501" })
            {
                throw new WorkerStartupException("This worker's database role may not look up its adapter: the core grants that to Database:WorkerRole " +
                                                 $"(default {WorkerRole.DefaultName}) when it starts; connect as that role, or start the core once first (db/roles.sql).", e);
            }
            catch (Exception e) when (Find<Npgsql.NpgsqlException>(e) is not null || e is TimeoutException)
            {
                if (DateTime.UtcNow >= deadline)
                    throw new WorkerStartupException($"PostgreSQL is unreachable after {wait.TotalSeconds:0} s: {Find<Npgsql.NpgsqlException>(e)?.Message ?? e.Message}", e);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }
    }
}
