using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Invites;

public sealed record CreateInvite(string? Note, double? ExpiresInHours);

/// <summary>The code is returned here once; hand it to the person who will register their service.</summary>
public sealed record InviteCreated(Guid Id, string Code, DateTimeOffset ExpiresAt) : CreatedResource($"/admin/invites/{Id}");

public sealed record InviteView(
    Guid Id, string? Note, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt, Guid? ServiceId, DateTimeOffset? RevokedAt)
{
    public static InviteView From(Invite i) => new(i.InviteId, i.Note, i.CreatedBy, i.CreatedAt, i.ExpiresAt, i.UsedAt, i.ServiceId, i.RevokedAt);
}

public static class CreateInviteEndpoint
{
    public const string CodePrefix = "nsi_";
    public const double MaxHours = 24 * 30;

    public static ProblemDetails Validate(CreateInvite command) =>
        command.ExpiresInHours is <= 0 or > MaxHours ? Problems.Invalid(("expiresInHours", $"Between 0 and {MaxHours} hours."))
        : command.Note is { Length: > 500 } ? Problems.Invalid(("note", "At most 500 characters."))
        : WolverineContinue.NoProblems;

    [WolverinePost("/admin/invites", OperationId = "createInvite")]
    [Tags("Invites")]
    [EndpointSummary("Create an invite")]
    [EndpointDescription("An invite code (shown only in this answer) that lets one person register one service through `POST /v1/register` before it expires.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static (InviteCreated, IMartenOp) Post(CreateInvite command, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var code = ApiKeys.New(CodePrefix);
        var invite = new Invite
        {
            Id = ApiKeys.Hash(code), InviteId = Guid.NewGuid(), Note = command.Note, CreatedBy = user.Actor(), CreatedAt = now,
            ExpiresAt = now.AddHours(command.ExpiresInHours ?? 72),
        };
        return (new InviteCreated(invite.InviteId, code, invite.ExpiresAt), MartenOps.Insert(invite));
    }
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
