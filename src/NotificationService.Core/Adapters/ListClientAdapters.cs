using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Storage.Adapters;
using Wolverine.Http;

namespace NotificationService.Core.Adapters;

public sealed record ClientAdapterView(string Name, string Type, JsonElement ParamsSchema);

/// <summary>The client side of adapters: a service sees only the active ones it may use, without config or policy.</summary>
public static class ListClientAdaptersEndpoint
{
    /// <summary>The active adapters this service may use, with the schema its params must follow.</summary>
    [WolverineGet("/v1/adapters", OperationId = "listAdapters")]
    [Tags("Adapters")]
    [EndpointSummary("List the adapters you may use")]
    [EndpointDescription("The active adapters this service may use, each with the JSON Schema its `params` must follow in `POST /v1/offers`.")]
    public static async Task<IReadOnlyList<ClientAdapterView>> Get(ClaimsPrincipal user, IQuerySession session)
    {
        var serviceId = user.ServiceId();
        return (await session.Query<Adapter>().Where(a => a.Status == AdapterStatus.Active).OrderBy(a => a.Name).ToListAsync())
            .Where(a => a.MayBeUsedBy(serviceId))
            .Select(a => new ClientAdapterView(a.Name, a.Type, JsonDocument.Parse(a.ParamsSchema).RootElement)).ToList();
    }
}
