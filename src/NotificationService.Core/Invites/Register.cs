using System.ComponentModel.DataAnnotations;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.ServiceAdmin;
using NotificationService.Core.Services;
using NotificationService.Storage;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Invites;

// Nullable so that a missing field is a 422 naming it, not a 400; [Required] keeps it required in the OpenAPI document.
public sealed record Register([property: Required] string? Name, [property: Required] string? InviteCode);

/// <summary>Self-registration (the brief's "let a person register"): an invite code buys one service and its first key.</summary>
public static class RegisterEndpoint
{
    public static async Task<Invite?> LoadAsync(Register command, IQuerySession session) =>
        string.IsNullOrEmpty(command.InviteCode) ? null : await session.LoadAsync<Invite>(ApiKeys.Hash(command.InviteCode));

    public static async Task<ProblemDetails> ValidateAsync(Register command, Invite? invite, TimeProvider clock, IQuerySession session)
    {
        var name = ServiceNames.Check(command.Name);
        if (name != WolverineContinue.NoProblems) return name;
        var code = invite is null ? Problems.Invalid(("inviteCode", "Unknown invite code."))
            : invite.UsedAt is not null ? Problems.Invalid(("inviteCode", "This invite code was already used."))
            : invite.RevokedAt is not null ? Problems.Invalid(("inviteCode", "This invite code was revoked."))
            : invite.ExpiresAt <= clock.GetUtcNow() ? Problems.Invalid(("inviteCode", "This invite code has expired."))
            : WolverineContinue.NoProblems;
        // Only a holder of a valid code learns whether a name is taken.
        return code != WolverineContinue.NoProblems ? code : await ServiceNames.CheckFreeAsync(command.Name!, session);
    }

    [AllowAnonymous]
    [WolverinePost("/v1/register", OperationId = "register")]
    [Tags("Registration")]
    [EndpointSummary("Register a service with an invite")]
    [EndpointDescription("A person with an invite code creates their service and gets its first API key (shown only here). Needs no API key: the invite code is the credential, and it works once.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceCreated, IStartStream, IMartenOp, IMartenOp) Post(Register command, [NotBody] Invite invite, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var serviceId = Guid.NewGuid();
        var name = command.Name!.Trim();
        var by = $"invite:{invite.InviteId}";
        var (key, issued, apiKey) = ServiceKey.Issue(serviceId, by, now);
        invite.UsedAt = now;
        invite.ServiceId = serviceId;
        return (new ServiceCreated(serviceId, name, key.KeyId, apiKey),
            MartenOps.StartStream<ServiceAccount>(serviceId, new ServiceRegistered(serviceId, name, by, now), issued),
            MartenOps.Insert(key), MartenOps.Update(invite));
    }
}
