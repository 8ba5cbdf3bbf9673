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
    [EndpointDescription("Every adapter in the system, blocked ones included, by name.")]
    public static async Task<IReadOnlyList<AdapterView>> List(IQuerySession session) =>
        (await session.Query<Adapter>().OrderBy(a => a.Name).ToListAsync()).Select(AdapterView.From).ToList();
}
