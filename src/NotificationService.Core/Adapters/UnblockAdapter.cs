using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Storage.Adapters;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Adapters;

/// <summary>The adapter takes offers again and its workers resume.</summary>
public static class UnblockAdapterEndpoint
{
    [WolverinePost("/admin/adapters/{id}/unblock", OperationId = "unblockAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Unblock an adapter")]
    [EndpointDescription("The adapter takes offers again and its workers resume.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterView, Events) Unblock([WriteAggregate] Adapter adapter, ClaimsPrincipal user, TimeProvider clock)
    {
        if (adapter.Status == AdapterStatus.Active) return (AdapterView.From(adapter), []);
        var unblocked = new AdapterUnblocked(adapter.Id, user.Actor(), clock.GetUtcNow());
        return (AdapterView.From(adapter.After(unblocked)), [unblocked]);
    }
}
