using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Invites;

/// <summary>One invite by the id its creation returned (the Location of that 201): whether and by which service it was used.</summary>
public static class GetInviteEndpoint
{
    // The document's id is the code's hash, so the invite is found by its public id (indexed).
    public static Task<Invite?> LoadAsync(Guid id, IQuerySession session) => session.Query<Invite>().FirstOrDefaultAsync(i => i.InviteId == id);

    public static ProblemDetails Validate(Invite? invite) => invite is null ? Problems.NotFound("Invite") : WolverineContinue.NoProblems;

    [WolverineGet("/admin/invites/{id}", OperationId = "getInvite")]
    [Tags("Invites")]
    [EndpointSummary("Get an invite")]
    [EndpointDescription("One invite: note, expiry, and whether and by which service it was used or revoked (never the code).")]
    public static InviteView Get(Guid id, [NotBody] Invite invite) => InviteView.From(invite);
}
