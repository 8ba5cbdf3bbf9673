using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Adapters;

/// <summary>
/// The core's <c>/health</c> is Degraded (still HTTP 200: the core itself serves) while an adapter is <c>no live
/// worker</c>. Not a rule of its own: it reads every adapter's live side as the admin API does (<see cref="AdapterLiveness"/>)
/// and takes <see cref="AdapterLiveStatus.Decide"/>'s answer, so the two can never disagree (a blocked adapter is
/// <c>blocked</c> there, so it never degrades health).
/// </summary>
public sealed class WorkersHealthCheck(IDocumentStore store, AdapterLiveness liveness) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        await using var session = store.QuerySession();
        var adapters = await session.Query<Adapter>().ToListAsync(ct);
        var live = await liveness.ReadAsync(session, adapters, ct);
        var stranded = adapters.Where(a => live[a.Id].Status == LiveStatus.NoLiveWorker).Select(a => a.Name).Order(StringComparer.Ordinal).Take(20).ToList();
        return stranded.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded($"no live worker for adapters with waiting jobs: {string.Join(", ", stranded)}");
    }
}
