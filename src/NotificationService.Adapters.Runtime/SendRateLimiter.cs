using Npgsql;
using NotificationService.Hosting;
using NotificationService.Storage;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// The adapter's send-rate limit, held across all of its worker processes: every send reserves the next free slot in one
/// PostgreSQL row per adapter (a generic cell rate algorithm: slots 1/rate apart, by the database's clock), then waits
/// for it. One single-statement transaction per send, and only for adapters that have a limit. The table is declared in
/// the shared Marten configuration (<see cref="NotificationStore.SendSlotsTable"/>), so the core's migration creates it.
/// </summary>
public sealed class SendRateLimiter(WorkerContext worker, NpgsqlDataSource database)
{
    private const string Reserve = $"""
        INSERT INTO {NotificationStore.SendSlotsTable} AS s (adapter_id, next_slot) VALUES ($1, clock_timestamp() + $2)
        ON CONFLICT (adapter_id) DO UPDATE SET next_slot = greatest(s.next_slot, clock_timestamp()) + $2
        RETURNING extract(epoch FROM (next_slot - $2 - clock_timestamp()))::float8
        """;

    private readonly TimeSpan? _interval = worker.Policy.RateLimitPerSecond is { } rate ? TimeSpan.FromSeconds(1 / rate) : null;

    public async Task WaitForSlotAsync(CancellationToken cancellation)
    {
        if (_interval is not { } interval) return;
        await using var command = database.CreateCommand(Reserve);
        command.Parameters.Add(new NpgsqlParameter { Value = worker.AdapterId });
        command.Parameters.Add(new NpgsqlParameter { Value = interval });
        var wait = (double)(await command.ExecuteScalarAsync(cancellation))!;
        if (wait <= 0) return;
        JobMetrics.RateLimitWaited(worker.AdapterName, TimeSpan.FromSeconds(wait));
        await Task.Delay(TimeSpan.FromSeconds(wait), cancellation);
    }
}
