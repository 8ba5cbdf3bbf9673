using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.ServiceAdmin;

public sealed record KeyRevoked(Guid ServiceId, Guid KeyId, DateTimeOffset RevokedAt);

/// <summary>A revoked key gets 401 from its next request on.</summary>
public static class RevokeServiceKeyEndpoint
{
    public static ProblemDetails Validate(Guid keyId, ServiceAccount service) =>
        service.Keys.FirstOrDefault(k => k.KeyId == keyId) is not { } key ? Problems.NotFound("Key")
        : key.RevokedAt is not null ? Problems.Conflict("The key is already revoked.")
        : WolverineContinue.NoProblems;

    [WolverineDelete("/admin/services/{id}/keys/{keyId}", OperationId = "revokeServiceKey")]
    [Tags("Services")]
    [EndpointSummary("Revoke a service key")]
    [EndpointDescription("The key stops working at once; revoking it twice gives 409.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (KeyRevoked, Events, IMartenOp) Delete(Guid keyId, [WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return (new KeyRevoked(service.Id, keyId, now), [new ServiceKeyRevoked(service.Id, keyId, user.Actor(), now)],
            MartenOps.DeleteWhere<ServiceKey>(k => k.KeyId == keyId));
    }
}
