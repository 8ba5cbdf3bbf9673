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

/// <summary>Applies a cancel decision to a job stream fetched for exclusive writing; used by job and offer cancels.</summary>
public static class Cancellation
{
    public static JobCancellationBroadcast? Apply(IEventStream<Job> stream, string requestedBy, DateTimeOffset now)
    {
        if (JobLifecycle.OnCancel(stream.Aggregate!, requestedBy, now) is not CancelDecision.Cancel cancel) return null;
        stream.AppendMany(cancel.Events);
        return cancel.Broadcast ? new JobCancellationBroadcast(stream.Id, stream.Aggregate!.AdapterId) : null;
    }
}

public static class CancelJobEndpoint
{
    public static ProblemDetails Validate(IEventStream<Job> stream, ClaimsPrincipal user) =>
        stream.Aggregate is not { } job || job.ServiceId != user.ServiceId() ? Problems.NotFound("Job")
        : job.IsTerminal ? Problems.Conflict($"The job already ended: {job.State}.")
        : WolverineContinue.NoProblems;

    /// <summary>202: a job that had not started is canceled now; one being sent is aborted by its worker, or ends Finished if the send won.</summary>
    [WolverinePost("/v1/jobs/{id}/cancel")]
    public static (CancelRequested, OutgoingMessages) Post(
        Guid id, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] IEventStream<Job> stream, ClaimsPrincipal user, TimeProvider clock)
    {
        var broadcast = Cancellation.Apply(stream, user.Identity?.Name ?? "service", clock.GetUtcNow());
        var job = stream.Aggregate!;
        var state = stream.Events.Any(e => e.Data is JobCanceled) ? JobState.Canceled : job.State;
        return (new CancelRequested(id, state, true), broadcast is null ? [] : [broadcast]);
    }
}
