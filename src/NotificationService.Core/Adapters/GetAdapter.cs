using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Storage.Adapters;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.Adapters;

public static class GetAdapterEndpoint
{
    [WolverineGet("/admin/adapters/{id}", OperationId = "getAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Get an adapter")]
    [EndpointDescription("One adapter: its config without secrets, params schema, policy, status and the services allowed to use it, " +
                         "and under `live` its live workers, queue depth, oldest waiting job and status (ok, no live worker, backlog growing, blocked).")]
    public static async Task<AdapterView> Get(Guid id, [Entity] Adapter adapter, IQuerySession session, AdapterLiveness liveness, CancellationToken ct) =>
        AdapterView.From(adapter) with { Live = (await liveness.ReadAsync(session, [adapter], ct))[adapter.Id] };
}
