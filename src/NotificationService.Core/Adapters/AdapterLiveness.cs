using Marten;
using Npgsql;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Adapters;

/// <summary>
/// Reads the live side of adapters for the admin API: two queries for any number of adapters (live heartbeats; the oldest
/// Queued job of each, one probe of the partial index mt_doc_job_idx_adapter_waiting per adapter), the queue depths from
/// the sampler's cache.
/// </summary>
public sealed class AdapterLiveness(QueueDepths depths, LiveStatusSettings settings)
{
    public async Task<IReadOnlyDictionary<Guid, AdapterLive>> ReadAsync(IQuerySession session, IReadOnlyList<Adapter> adapters, CancellationToken ct)
    {
        var ids = adapters.Select(a => a.Id).ToArray();
        var connection = await session.OpenConnectionAsync(ct);

        var workers = ids.ToDictionary(id => id, _ => new List<LiveWorker>());
        await using (var command = new NpgsqlCommand($"""
            SELECT adapter_id, node, host, version, parallelism, in_flight, started_at, last_seen FROM {WorkerHeartbeats.Table}
            WHERE adapter_id = ANY(@ids) AND last_seen > now() - @bound ORDER BY started_at, node
            """, connection))
        {
            command.Parameters.AddWithValue("ids", ids);
            command.Parameters.AddWithValue("bound", settings.LiveBound);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                workers[reader.GetGuid(0)].Add(new LiveWorker(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                    reader.GetInt32(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7)));
        }

        var oldest = new Dictionary<Guid, (DateTimeOffset Since, double Seconds)>();
        // The expressions are the index's, as PostgreSQL prints them, so the planner uses it for each adapter.
        await using (var command = new NpgsqlCommand($"""
            SELECT a.id, w.created_at, extract(epoch FROM now() - w.created_at)::float8
            FROM unnest(@ids) a(id) CROSS JOIN LATERAL (
              SELECT j.created_at FROM {NotificationStore.Schema}.mt_doc_job j
              WHERE ((j.data ->> 'adapterId')::uuid) = a.id AND {NotificationStore.WaitingJobsPredicate.Replace("data", "j.data")}
              ORDER BY j.created_at LIMIT 1) w
            """, connection))
        {
            command.Parameters.AddWithValue("ids", ids);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) oldest[reader.GetGuid(0)] = (reader.GetFieldValue<DateTimeOffset>(1), reader.GetDouble(2));
        }

        return adapters.ToDictionary(a => a.Id, a =>
        {
            var sample = depths.For(a.Id);
            (DateTimeOffset Since, double Seconds)? waiting = oldest.TryGetValue(a.Id, out var o) ? o : null;
            var status = AdapterLiveStatus.Decide(a.Status, workers[a.Id].Count, waiting?.Seconds, sample?.Recent ?? [], settings.LiveBound, settings.BacklogSamples);
            return new AdapterLive(status, workers[a.Id], sample?.Depth, sample?.At, waiting?.Since, waiting?.Seconds);
        });
    }
}
