using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.ServiceAdmin;

public sealed record KeyIssued(Guid ServiceId, Guid KeyId, string ApiKey) : CreatedResource($"/admin/services/{ServiceId}");

/// <summary>Several keys may be live at once, so a key is rotated by issuing the new one before revoking the old.</summary>
public static class IssueServiceKeyEndpoint
{
    [WolverinePost("/admin/services/{id}/keys", OperationId = "issueServiceKey")]
    [Tags("Services")]
    [EndpointSummary("Issue a service key")]
    [EndpointDescription("A new key for the service, shown only in this answer. Several keys may be live at once, so a key is rotated by issuing the new one before revoking the old.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (KeyIssued, Events, IMartenOp) Post([WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock)
    {
        var (key, issued, apiKey) = ServiceKey.Issue(service.Id, user.Actor(), clock.GetUtcNow());
        return (new KeyIssued(service.Id, key.KeyId, apiKey), [issued], MartenOps.Insert(key));
    }
}
