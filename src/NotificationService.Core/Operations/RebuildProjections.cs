using Microsoft.AspNetCore.Mvc;
using System.Diagnostics;
using JasperFx.Events.Daemon;
using Marten;
using NotificationService.Core.Services;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

public sealed record ProjectionsRebuilt(IReadOnlyList<string> Projections, double Seconds);

/// <summary>
/// Rebuilds the projections (Job, Adapter and ServiceAccount documents; the cancellation flag, offer views and job counts
/// read from the Job document) by replaying the event streams. Projections read only event data (never the clock), so
/// the rebuilt documents equal the ones they replace. Same as `dotnet run --project src/NotificationService.Core --
/// projections rebuild`; run it in a quiet moment, as writes during the rebuild may be overwritten by the replay.
/// </summary>
public static class RebuildProjectionsEndpoint
{
    [WolverinePost("/admin/projections/rebuild", OperationId = "rebuildProjections")]
    [Tags("Operations")]
    [EndpointSummary("Rebuild the projections")]
    [EndpointDescription("Replays the event store into the Job and service documents (as `dotnet run -- projections rebuild` would). Run it in a quiet moment: writes during the rebuild may be overwritten by the replay.")]
    public static async Task<ProjectionsRebuilt> Post(IDocumentStore store, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var daemon = await store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync<Job>(TimeSpan.FromMinutes(5), ct);
        await daemon.RebuildProjectionAsync<Adapter>(TimeSpan.FromMinutes(5), ct);
        await daemon.RebuildProjectionAsync<ServiceAccount>(TimeSpan.FromMinutes(5), ct);
        return new ProjectionsRebuilt([nameof(Job), nameof(Adapter), nameof(ServiceAccount)], watch.Elapsed.TotalSeconds);
    }
}
