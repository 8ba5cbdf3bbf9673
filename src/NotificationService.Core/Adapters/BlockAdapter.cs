using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Storage.Adapters;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Adapters;

/// <summary>
/// A blocked adapter refuses new offers at once; its workers stop taking jobs within seconds and resume on unblock.
/// Jobs already in its queue wait there (and expire when their time runs out).
/// </summary>
public static class BlockAdapterEndpoint
{
    [WolverinePost("/admin/adapters/{id}/block", OperationId = "blockAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Block an adapter")]
    [EndpointDescription("New offers to a blocked adapter are refused and its workers stop taking jobs; jobs already in its queue wait there (and expire when their time runs out).")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterView, Events) Block([WriteAggregate] Adapter adapter, ClaimsPrincipal user, TimeProvider clock)
    {
        if (adapter.Status == AdapterStatus.Blocked) return (AdapterView.From(adapter), []);
        var blocked = new AdapterBlocked(adapter.Id, user.Actor(), clock.GetUtcNow());
        return (AdapterView.From(adapter.After(blocked)), [blocked]);
    }
}
