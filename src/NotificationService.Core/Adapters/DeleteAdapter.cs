using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Adapters;

public sealed record AdapterRemoved(Guid Id, string Name);

/// <summary>Deletes an adapter that has no unfinished jobs; its history stays readable.</summary>
public static class DeleteAdapterEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(Adapter adapter, IQuerySession session)
    {
        // By name as well: an adapter is never renamed, and the name leads the index of an adapter's jobs (NotificationStore).
        var unfinished = await session.Query<Job>().CountAsync(j => j.AdapterName == adapter.Name && j.AdapterId == adapter.Id
            && (j.State == JobState.Scheduled || j.State == JobState.Queued || j.State == JobState.Started));
        return unfinished > 0
            ? Problems.Conflict($"The adapter has {unfinished} unfinished jobs; cancel them or let them end first.")
            : WolverineContinue.NoProblems;
    }

    [WolverineDelete("/admin/adapters/{id}", OperationId = "deleteAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Delete an adapter")]
    [EndpointDescription("Only an adapter with no unfinished jobs can be deleted (409 otherwise); its history stays readable.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterRemoved, Events) Delete([WriteAggregate] Adapter adapter, ClaimsPrincipal user, TimeProvider clock) =>
        (new AdapterRemoved(adapter.Id, adapter.Name), [new AdapterDeleted(adapter.Id, user.Actor(), clock.GetUtcNow())]);
}
