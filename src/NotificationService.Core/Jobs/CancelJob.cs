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

/// <summary>
/// Applies a cancel decision to a job stream fetched for exclusive writing; used by job and offer cancels. Returns the
/// job's state once the commit lands, and the broadcast to send when a worker may be sending it now.
/// </summary>
public static class Cancellation
{
    public static (JobState State, JobCancellationBroadcast? Broadcast) Apply(IEventStream<Job> stream, string requestedBy, DateTimeOffset now)
    {
        var job = stream.Aggregate!;
        if (JobLifecycle.OnCancel(job, requestedBy, now) is not CancelDecision.Cancel cancel) return (job.State, null);
        stream.AppendMany(cancel.Events);
        var state = cancel.Events.Any(e => e is JobCanceled) ? JobState.Canceled : job.State;
        return (state, cancel.Broadcast ? new JobCancellationBroadcast(stream.Id, job.AdapterId) : null);
    }
}

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
    public static (CancelRequested, OutgoingMessages) Post(
        Guid id, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] IEventStream<Job> stream, ClaimsPrincipal user, TimeProvider clock)
    {
        var (state, broadcast) = Cancellation.Apply(stream, user.Actor(), clock.GetUtcNow());
        return (new CancelRequested(id, state, true), broadcast is null ? [] : [broadcast]);
    }
}
