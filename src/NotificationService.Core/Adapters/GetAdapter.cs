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
    [EndpointDescription("One adapter: its config without secrets, params schema, policy, status and the services allowed to use it.")]
    public static AdapterView Get(Guid id, [Entity] Adapter adapter) => AdapterView.From(adapter);
}
