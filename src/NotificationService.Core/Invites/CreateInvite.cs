using System.Security.Claims;
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
