using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Adapters;

/// <summary>
/// The core's <c>/health</c> is Degraded (still HTTP 200: the core itself serves) while an active adapter is
/// <c>no live worker</c>: a Queued job older than Workers:LiveSeconds and no heartbeat within it. The same rule as
/// <see cref="AdapterLiveStatus.Decide"/>, as one query over every adapter.
/// </summary>
public sealed class WorkersHealthCheck(IDocumentStore store, LiveStatusSettings settings) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var connection = (NpgsqlConnection)session.Connection!;
        if (connection.State != System.Data.ConnectionState.Open) await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"""
            SELECT a.data ->> 'name' FROM {NotificationStore.Schema}.mt_doc_adapter a
            WHERE a.data ->> 'status' = 'Active'
              AND EXISTS (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_job j
                          WHERE ((j.data ->> 'adapterId')::uuid) = a.id AND {NotificationStore.WaitingJobsPredicate.Replace("data", "j.data")}
                            AND {NotificationStore.Schema}.mt_immutable_timestamptz(j.data ->> 'createdAt') < now() - @bound)
              AND NOT EXISTS (SELECT 1 FROM {WorkerHeartbeats.Table} h WHERE h.adapter_id = a.id AND h.last_seen > now() - @bound)
            ORDER BY 1 LIMIT 20
            """, connection);
        command.Parameters.AddWithValue("bound", settings.LiveBound);
        var stranded = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) stranded.Add(reader.GetString(0));
        return stranded.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded($"no live worker for adapters with waiting jobs: {string.Join(", ", stranded)}");
    }
}
