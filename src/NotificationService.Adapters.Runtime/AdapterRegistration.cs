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
    /// Finds the adapter by the hash of the key the worker was started with. Waits a bounded time for PostgreSQL, so a
    /// worker started together with the database does not fail for being a second too early.
    /// </summary>
    public static async Task<Adapter> LoadAsync(string postgres, string key, string expectedType, TimeSpan wait, CancellationToken ct = default)
    {
        using var store = DocumentStore.For(opts =>
        {
            opts.UseNotificationStore(postgres);
            opts.AutoCreateSchemaObjects = JasperFx.AutoCreate.None;
        });
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                await using var session = store.QuerySession();
                var hash = ApiKeys.Hash(key);
                var adapter = await session.Query<Adapter>().SingleOrDefaultAsync(a => a.KeyHash == hash, ct);
                if (adapter is null) throw new WorkerStartupException("No adapter is registered for this Adapter:Key (unknown key, or the adapter was deleted).");
                if (!string.Equals(adapter.Type, expectedType, StringComparison.OrdinalIgnoreCase))
                    throw new WorkerStartupException($"Adapter '{adapter.Name}' is of type '{adapter.Type}', but this worker delivers '{expectedType}'.");
                return adapter;
            }
            catch (Exception e) when (Find<Npgsql.PostgresException>(e) is { SqlState: "42P01" })
            {
                throw new WorkerStartupException("The notification store has no adapters table yet: start the core once first.", e);
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
