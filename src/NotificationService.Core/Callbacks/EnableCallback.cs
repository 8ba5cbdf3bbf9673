using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Callbacks;

/// <summary>Turns a callback back on after it was disabled for failing: clears the reason and the failure count.</summary>
public static class EnableCallbackEndpoint
{
    public static Task<CallbackEndpoint?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(id);

    public static ProblemDetails Validate(CallbackEndpoint? callback, ClaimsPrincipal user) => GetCallbackEndpoint.Validate(callback, user);

    [WolverinePost("/v1/callbacks/{id}/enable", OperationId = "enableCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Re-enable a status callback")]
    [EndpointDescription("A callback disabled after failing too long gets events again from now on (events in between are not sent). " +
                         "Clears its disabled reason and failure count.")]
    [ProducesResponseType<CallbackView>(200)]
    [ProducesResponseType<ProblemDetails>(404)]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (CallbackView, IMartenOp) Post(Guid id, [NotBody] CallbackEndpoint callback) => Enable(callback);

    public static (CallbackView, IMartenOp) Enable(CallbackEndpoint callback)
    {
        (callback.Enabled, callback.DisabledReason, callback.DisabledAt, callback.ConsecutiveFailures, callback.FailingSince) = (true, null, null, 0, null);
        // Update, not Store: Store's upsert would bring back a callback deleted since it was read.
        return (CallbackView.From(callback), MartenOps.Update(callback));
    }
}

public static class AdminEnableCallbackEndpoint
{
    public static Task<CallbackEndpoint?> LoadAsync(Guid callbackId, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(callbackId);

    public static ProblemDetails Validate(Guid id, CallbackEndpoint? callback) => AdminDeleteCallbackEndpoint.Validate(id, callback);

    [WolverinePost("/admin/services/{id}/callbacks/{callbackId}/enable", OperationId = "adminEnableCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Re-enable a service's status callback")]
    [EndpointDescription("As POST /v1/callbacks/{id}/enable, for any service.")]
    [ProducesResponseType<CallbackView>(200)]
    [ProducesResponseType<ProblemDetails>(404)]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (CallbackView, IMartenOp) Post(Guid id, Guid callbackId, [NotBody] CallbackEndpoint callback) => EnableCallbackEndpoint.Enable(callback);
}
