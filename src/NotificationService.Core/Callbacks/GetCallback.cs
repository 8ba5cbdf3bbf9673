using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Callbacks;

/// <summary>A service sees its own callbacks only; another service's is a 404, like a missing one.</summary>
public static class GetCallbackEndpoint
{
    public static Task<CallbackEndpoint?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(id);

    public static ProblemDetails Validate(CallbackEndpoint? callback, ClaimsPrincipal user) =>
        callback is null || callback.ServiceId != user.ServiceId() ? Problems.NotFound("Callback") : WolverineContinue.NoProblems;

    [WolverineGet("/v1/callbacks/{id}", OperationId = "getCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Read a status callback")]
    [EndpointDescription("The callback's URL, events and state: a callback disabled after failing says why and since when.")]
    [ProducesResponseType<CallbackView>(200)]
    [ProducesResponseType<ProblemDetails>(404)]
    public static CallbackView Get(Guid id, [NotBody] CallbackEndpoint callback) => CallbackView.From(callback);
}
