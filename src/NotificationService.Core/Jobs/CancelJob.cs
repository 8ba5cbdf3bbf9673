using System.Security.Claims;
using JasperFx.Events;
using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

public sealed record CancelRequested(Guid Id, JobState State, bool CancellationRequested) : AcceptedResource($"/v1/jobs/{Id}");

public static class CancelJobEndpoint
{
    public static ProblemDetails Validate(IEventStream<Job> stream, ClaimsPrincipal user) =>
        stream.Aggregate is not { } job || job.ServiceId != user.ServiceId() ? Problems.NotFound("Job")
        : job.IsTerminal ? Problems.Conflict($"The job already ended: {job.State}.")
        : WolverineContinue.NoProblems;

    /// <summary>202: a job that had not started is canceled now; one being sent is aborted by its worker, or ends Finished if the send won.</summary>
    [WolverinePost("/v1/jobs/{id}/cancel", OperationId = "cancelJob")]
    [Tags("Jobs")]
    [EndpointSummary("Cancel a job")]
    [EndpointDescription("A job that has not started is canceled at once; one being sent is aborted by its worker, or ends Finished if the send won. A job that already ended gives 409.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (CancelRequested, Events, OutgoingMessages) Post(
        Guid id, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] Job job, ClaimsPrincipal user, TimeProvider clock)
    {
        var cancel = Cancellation.Of(job, user.Actor(), clock.GetUtcNow());
        return (new CancelRequested(id, cancel.State, true), [.. cancel.Events], cancel.Broadcast is null ? [] : [cancel.Broadcast]);
    }
}
