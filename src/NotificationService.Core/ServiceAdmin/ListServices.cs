using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Services;
using Wolverine.Http;

namespace NotificationService.Core.ServiceAdmin;

public static class ListServicesEndpoint
{
    [WolverineGet("/admin/services", OperationId = "listServices")]
    [Tags("Services")]
    [EndpointSummary("List the services")]
    [EndpointDescription("Every client service, with its status and keys (never the keys themselves).")]
    public static async Task<IReadOnlyList<ServiceView>> Get(IQuerySession session)
    {
        var services = await session.Query<ServiceAccount>().OrderBy(s => s.Name).ToListAsync();
        var keys = (await session.Query<ServiceKey>().ToListAsync()).ToDictionary(k => k.KeyId);
        return services.Select(s => ServiceView.From(s, keys)).ToList();
    }
}
