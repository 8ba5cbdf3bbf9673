using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.ServiceAdmin;

public static class GetServiceHistoryEndpoint
{
    [WolverineGet("/admin/services/{id}/history", OperationId = "getServiceHistory")]
    [Tags("Services")]
    [EndpointSummary("Read a service's history")]
    [EndpointDescription("Who created, renamed, blocked the service or issued and revoked its keys, and when.")]
    public static Task<IReadOnlyList<HistoryEntry>> History(Guid id, [Entity] ServiceAccount service, IQuerySession session) =>
        HistoryEntry.ReadAsync(id, session);
}
