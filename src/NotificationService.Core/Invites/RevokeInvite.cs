using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Invites;

/// <summary>
/// Revokes an unused invite: its code is refused from then on. The invite is kept (marked revoked), and the version
/// check on the document decides a race with a registration using the code: one of the two gets 409.
/// </summary>
public static class RevokeInviteEndpoint
{
    public static Task<Invite?> LoadAsync(Guid id, IQuerySession session) => session.Query<Invite>().FirstOrDefaultAsync(i => i.InviteId == id);

    public static ProblemDetails Validate(Invite? invite) =>
        invite is null ? Problems.NotFound("Invite")
        : invite.UsedAt is not null ? Problems.Conflict("The invite was already used; block or rename the service it created instead.")
        : WolverineContinue.NoProblems;

    [WolverineDelete("/admin/invites/{id}", OperationId = "revokeInvite")]
    [Tags("Invites")]
    [EndpointSummary("Revoke an invite")]
    [EndpointDescription("The code stops working; an invite already used gives 409.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (InviteView, IMartenOp) Delete(Guid id, [NotBody] Invite invite, TimeProvider clock)
    {
        invite.RevokedAt ??= clock.GetUtcNow();
        return (InviteView.From(invite), MartenOps.Update(invite));
    }
}
