using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.ServiceAdmin;

/// <summary>A blocked service's keys get 403 on every request until it is unblocked; nothing of it is deleted.</summary>
public static class BlockServiceEndpoint
{
    [WolverinePost("/admin/services/{id}/block", OperationId = "blockService")]
    [Tags("Services")]
    [EndpointSummary("Block a service")]
    [EndpointDescription("A blocked service's keys get 403 on every request until it is unblocked; nothing of it is deleted.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceSummary, Events) Block([WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock) =>
        (new ServiceSummary(service.Id, service.Name, ServiceStatus.Blocked),
            service.Status == ServiceStatus.Blocked ? [] : [new ServiceBlocked(service.Id, user.Actor(), clock.GetUtcNow())]);
}
