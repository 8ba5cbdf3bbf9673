using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.Callbacks;

public static class ListCallbacksEndpoint
{
    [WolverineGet("/v1/callbacks", OperationId = "listCallbacks")]
    [Tags("Callbacks")]
    [EndpointSummary("List this service's status callbacks")]
    [EndpointDescription("Every callback the service registered, oldest first, with whether it is enabled and, if not, why. Secrets are never shown.")]
    [ProducesResponseType<CallbackView[]>(200)]
    public static Task<IReadOnlyList<CallbackView>> Get(ClaimsPrincipal user, IQuerySession session) => ForServiceAsync(user.ServiceId(), session);

    public static async Task<IReadOnlyList<CallbackView>> ForServiceAsync(Guid serviceId, IQuerySession session) =>
        (await session.Query<CallbackEndpoint>().Where(c => c.ServiceId == serviceId).OrderBy(c => c.CreatedAt).ToListAsync()).Select(CallbackView.From).ToList();
}

public static class AdminListCallbacksEndpoint
{
    [WolverineGet("/admin/services/{id}/callbacks", OperationId = "adminListCallbacks")]
    [Tags("Callbacks")]
    [EndpointSummary("List a service's status callbacks")]
    [EndpointDescription("As GET /v1/callbacks, for any service.")]
    [ProducesResponseType<CallbackView[]>(200)]
    [ProducesResponseType<ProblemDetails>(404)]
    public static Task<IReadOnlyList<CallbackView>> Get(Guid id, [Entity] ServiceAccount service, IQuerySession session) =>
        ListCallbacksEndpoint.ForServiceAsync(service.Id, session);
}
