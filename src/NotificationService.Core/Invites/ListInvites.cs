using Marten;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace NotificationService.Core.Invites;

public sealed record InviteView(
    Guid Id, string? Note, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt, Guid? ServiceId, DateTimeOffset? RevokedAt)
{
    public static InviteView From(Invite i) => new(i.InviteId, i.Note, i.CreatedBy, i.CreatedAt, i.ExpiresAt, i.UsedAt, i.ServiceId, i.RevokedAt);
}

public static class ListInvitesEndpoint
{
    [WolverineGet("/admin/invites", OperationId = "listInvites")]
    [Tags("Invites")]
    [EndpointSummary("List the invites")]
    [EndpointDescription("Every invite, newest first, without the codes.")]
    public static async Task<IReadOnlyList<InviteView>> List(IQuerySession session) =>
        (await session.Query<Invite>().OrderByDescending(i => i.CreatedAt).ToListAsync())
        .Select(InviteView.From).ToList();
}
