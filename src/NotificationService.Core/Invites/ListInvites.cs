using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using Wolverine.Http;

namespace NotificationService.Core.Invites;

public sealed record InviteView(
    Guid Id, string? Note, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt, Guid? ServiceId, DateTimeOffset? RevokedAt)
{
    public static InviteView From(Invite i) => new(i.InviteId, i.Note, i.CreatedBy, i.CreatedAt, i.ExpiresAt, i.UsedAt, i.ServiceId, i.RevokedAt);
}

public static class ListInvitesEndpoint
{
    private const string CreatedAt = $"{NotificationStore.Schema}.mt_immutable_timestamptz(d.data ->> 'createdAt')";

    public static ArrayPaging Load(string? limit, string? after, IDataProtectionProvider protection) =>
        ArrayPaging.Parse(limit, after, protection, ListCursor.Invites);

    public static ProblemDetails Validate(ArrayPaging paging) => paging.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/admin/invites", OperationId = "listInvites")]
    [Tags("Invites")]
    [EndpointSummary("List the invites")]
    [EndpointDescription("Every invite, newest first (then by id), without the codes. Without limit and after: the whole list. With limit "
        + "(1 to 200) and/or after (default limit 50): one page, and while more follow a Link header (RFC 8288) "
        + "`</admin/invites?limit=25&after=...>; rel=\"next\"`, the next page's relative URL; after is opaque.")]
    [ProducesResponseType<IReadOnlyList<InviteView>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<IReadOnlyList<InviteView>> List(ArrayPaging paging, IQuerySession session, HttpContext context, IDataProtectionProvider protection, CancellationToken ct)
    {
        if (!paging.Paged) return (await session.Query<Invite>().OrderByDescending(i => i.CreatedAt).ToListAsync(ct)).Select(InviteView.From).ToList();
        // The time as text through the stored value's own function, so both round their 100 ns digits alike (ListCursor.TimeKey).
        var (after, args) = paging.After is { } cursor
            ? ($" where ({CreatedAt}, (d.data ->> 'inviteId')::uuid) < ({NotificationStore.Schema}.mt_immutable_timestamptz(?), ?)", new object[] { cursor.Key, cursor.Id })
            : ("", []);
        var invites = await session.QueryAsync<Invite>(
            $"select d.data from {NotificationStore.Schema}.mt_doc_invite d{after} order by {CreatedAt} desc, (d.data ->> 'inviteId')::uuid desc limit {paging.Size + 1}", ct, args);
        return paging.Page(invites, i => new ListCursor(ListCursor.TimeKey(i.CreatedAt), i.InviteId), ListCursor.Invites, context, protection)
            .Select(InviteView.From).ToList();
    }
}
