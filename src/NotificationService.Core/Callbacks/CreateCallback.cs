using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Persistence;

namespace NotificationService.Core.Callbacks;

/// <summary>A callback registration; <c>events</c> left out means started, finished, failed, expired and canceled.</summary>
// Nullable so that a missing url is a 422 naming it, not a 400; [Required] keeps it required in the OpenAPI document.
public sealed record CreateCallback([property: Required] string? Url, List<string>? Events);

/// <summary>201: the callback, with its signing secret, shown here only.</summary>
public sealed record CallbackCreated(Guid Id, string Url, IReadOnlyList<string> Events, bool Enabled, DateTimeOffset CreatedAt, string Secret)
    : CreatedResource($"/v1/callbacks/{Id}");

public static class CallbackRules
{
    public static async Task<ProblemDetails> CheckAsync(CreateCallback command, Guid serviceId, IQuerySession session, CallbackSettings settings)
    {
        var errors = new List<(string, string)>();
        if (CallbackUrls.Check(command.Url) is { } urlError) errors.Add(("url", urlError));
        if (command.Events is { } events)
        {
            if (events.Count == 0) errors.Add(("events", "At least one event, or leave the field out for the default set."));
            foreach (var unknown in events.Where(e => !CallbackEvents.All.Contains(e)).Distinct())
                errors.Add(("events", $"Unknown event '{unknown}'; known: {string.Join(", ", CallbackEvents.All)}."));
        }
        if (errors.Count == 0 && await session.Query<CallbackEndpoint>().CountAsync(c => c.ServiceId == serviceId) >= settings.MaxPerService)
            errors.Add(("url", $"A service may register at most {settings.MaxPerService} callbacks (Callbacks:MaxPerService); delete one first."));
        return errors.Count > 0 ? Problems.Invalid(errors.ToArray()) : WolverineContinue.NoProblems;
    }

    public static (CallbackCreated, IMartenOp) Create(CreateCallback command, Guid serviceId, CallbackSecrets secrets, TimeProvider clock)
    {
        var secret = CallbackSecrets.NewSecret();
        var callback = new CallbackEndpoint
        {
            Id = Guid.NewGuid(), ServiceId = serviceId, Url = command.Url!, CreatedAt = clock.GetUtcNow(),
            Events = command.Events is { } events ? CallbackEvents.All.Where(events.Contains).ToList() : [.. CallbackEvents.Default],
            ProtectedSecret = secrets.Protect(secret),
        };
        return (new CallbackCreated(callback.Id, callback.Url, callback.Events, true, callback.CreatedAt, secret), MartenOps.Insert(callback));
    }
}

public static class CreateCallbackEndpoint
{
    public static Task<ProblemDetails> ValidateAsync(CreateCallback command, ClaimsPrincipal user, IQuerySession session, CallbackSettings settings) =>
        CallbackRules.CheckAsync(command, user.ServiceId(), session, settings);

    [WolverinePost("/v1/callbacks", OperationId = "createCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Register a status callback")]
    [EndpointDescription("Registers a URL that receives this service's job events as signed POSTs (README: Status callbacks). " +
                         "The signing secret is in this response only.")]
    [ProducesResponseType<CallbackCreated>(201)]
    [ProducesResponseType<ValidationProblemDetails>(422)]
    public static (CallbackCreated, IMartenOp) Post(CreateCallback command, ClaimsPrincipal user, CallbackSecrets secrets, TimeProvider clock) =>
        CallbackRules.Create(command, user.ServiceId(), secrets, clock);
}

public static class AdminCreateCallbackEndpoint
{
    public static Task<ProblemDetails> ValidateAsync(Guid id, CreateCallback command, IQuerySession session, CallbackSettings settings) =>
        CallbackRules.CheckAsync(command, id, session, settings);

    [WolverinePost("/admin/services/{id}/callbacks", OperationId = "adminCreateCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Register a status callback for a service")]
    [EndpointDescription("As POST /v1/callbacks, on the service's behalf. The signing secret is in this response only.")]
    [ProducesResponseType<CallbackCreated>(201)]
    [ProducesResponseType<ValidationProblemDetails>(422)]
    [ProducesResponseType<ProblemDetails>(404)]
    public static (CallbackCreated, IMartenOp) Post(Guid id, CreateCallback command, [Entity] ServiceAccount service, CallbackSecrets secrets, TimeProvider clock)
    {
        var (created, insert) = CallbackRules.Create(command, service.Id, secrets, clock);
        // Where an admin key can read it back.
        return (created with { Location = $"/admin/services/{service.Id}/callbacks" }, insert);
    }
}
