using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.ServiceAdmin;

/// <summary>The service's keys work again.</summary>
public static class UnblockServiceEndpoint
{
    [WolverinePost("/admin/services/{id}/unblock", OperationId = "unblockService")]
    [Tags("Services")]
    [EndpointSummary("Unblock a service")]
    [EndpointDescription("The service's keys work again.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceSummary, Events) Unblock([WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock) =>
        (new ServiceSummary(service.Id, service.Name, ServiceStatus.Active),
            service.Status == ServiceStatus.Active ? [] : [new ServiceUnblocked(service.Id, user.Actor(), clock.GetUtcNow())]);
}
