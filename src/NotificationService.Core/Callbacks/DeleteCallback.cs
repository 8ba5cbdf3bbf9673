using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// Deletes a callback. Deliveries still waiting in the queue find it gone and end there, so nothing more is sent to it.
/// Its delivery records (possibly many) are left to the retention sweep: a <see cref="DeletedCallback"/> marker, stored
/// with the delete, tells the sweep whose records to delete in batches, so the request never holds one big delete.
/// </summary>
public static class DeleteCallbackEndpoint
{
    public static Task<CallbackEndpoint?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(id);

    public static ProblemDetails Validate(CallbackEndpoint? callback, ClaimsPrincipal user) => GetCallbackEndpoint.Validate(callback, user);

    [WolverineDelete("/v1/callbacks/{id}", OperationId = "deleteCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Delete a status callback")]
    [EndpointDescription("Stops the callback: nothing more is sent to it, including deliveries waiting for a retry. Its delivery records are deleted in the background shortly after.")]
    [ProducesResponseType(204)]
    [ProducesResponseType<ProblemDetails>(404)]
    public static (NoContent, IMartenOp, IMartenOp) Delete(Guid id, [NotBody] CallbackEndpoint callback) => Remove(callback);

    public static (NoContent, IMartenOp, IMartenOp) Remove(CallbackEndpoint callback) =>
        (TypedResults.NoContent(), MartenOps.Delete(callback),
            MartenOps.Store(new DeletedCallback { Id = callback.Id, ServiceId = callback.ServiceId, DeletedAt = DateTimeOffset.UtcNow }));
}

/// <summary>A deleted callback whose delivery records the retention sweep still has to delete (RetentionSweeper).</summary>
public sealed class DeletedCallback
{
    public Guid Id { get; set; }
    public Guid ServiceId { get; set; }
    public DateTimeOffset DeletedAt { get; set; }
}

public static class AdminDeleteCallbackEndpoint
{
    public static Task<CallbackEndpoint?> LoadAsync(Guid callbackId, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(callbackId);

    public static ProblemDetails Validate(Guid id, CallbackEndpoint? callback) =>
        callback is null || callback.ServiceId != id ? Problems.NotFound("Callback") : WolverineContinue.NoProblems;

    [WolverineDelete("/admin/services/{id}/callbacks/{callbackId}", OperationId = "adminDeleteCallback")]
    [Tags("Callbacks")]
    [EndpointSummary("Delete a service's status callback")]
    [EndpointDescription("As DELETE /v1/callbacks/{id}, for any service.")]
    [ProducesResponseType(204)]
    [ProducesResponseType<ProblemDetails>(404)]
    public static (NoContent, IMartenOp, IMartenOp) Delete(Guid id, Guid callbackId, [NotBody] CallbackEndpoint callback) =>
        DeleteCallbackEndpoint.Remove(callback);
}
