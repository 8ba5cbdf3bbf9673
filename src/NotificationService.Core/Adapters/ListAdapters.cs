using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Storage.Adapters;
using Wolverine.Http;

namespace NotificationService.Core.Adapters;

public static class ListAdaptersEndpoint
{
    /// <summary>Every adapter in the system, blocked ones included.</summary>
    [WolverineGet("/admin/adapters", OperationId = "listAllAdapters")]
    [Tags("Adapters")]
    [EndpointSummary("List all adapters")]
    [EndpointDescription("Every adapter in the system, blocked ones included, by name, each with its live workers, queue depth, " +
                         "oldest waiting job and status under `live`.")]
    public static async Task<IReadOnlyList<AdapterView>> List(IQuerySession session, AdapterLiveness liveness, CancellationToken ct)
    {
        var adapters = await session.Query<Adapter>().OrderBy(a => a.Name).ToListAsync(ct);
        var live = await liveness.ReadAsync(session, adapters, ct);
        return adapters.Select(a => AdapterView.From(a) with { Live = live[a.Id] }).ToList();
    }
}
