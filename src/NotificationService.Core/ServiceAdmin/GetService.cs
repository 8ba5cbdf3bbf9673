using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Retention;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.ServiceAdmin;

public static class GetServiceEndpoint
{
    [WolverineGet("/admin/services/{id}", OperationId = "getService")]
    [Tags("Services")]
    [EndpointSummary("Get a service")]
    [EndpointDescription("One service: status, keys (ids and times), limits and retention.")]
    public static async Task<ServiceView> Get(Guid id, [Entity] ServiceAccount service, IQuerySession session, RetentionSettings retention) =>
        await ServiceView.ForAsync(service, session) with { Retention = RetentionView.For(service.Retention, retention) };
}
