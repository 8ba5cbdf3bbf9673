using Marten;
using JasperFx.Events;
using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

public sealed record RetryRequested(Guid Id) : AcceptedResource($"/admin/jobs/{Id}");

/// <summary>Re-drives a failed job as a new attempt in the same stream.</summary>
public static class RetryJobEndpoint
{
    public static async Task<Adapter?> LoadAsync(Guid id, IQuerySession session) =>
        await session.LoadAsync<Job>(id) is { } job ? await session.LoadAsync<Adapter>(job.AdapterId) : null;

    /// <summary>
    /// Words JobLifecycle.OnRetry's rule (only a Failed job whose params were not erased) as 409 messages; the lifecycle
    /// table test (Core.Tests/Jobs/JobLifecycleTests.cs, Retry column) records that rule. The adapter's existence is I/O,
    /// checked only here.
    /// </summary>
    public static ProblemDetails Validate(IEventStream<Job> stream, Adapter? adapter) =>
        stream.Aggregate is not { } job ? Problems.NotFound("Job")
        : job.State != JobState.Failed ? Problems.Conflict($"Only a failed job can be retried; this one is {job.State}.")
        : job.ParamsErasedAt is not null ? Problems.Conflict("The job's params were erased; it can no longer be sent.")
        : adapter is null ? Problems.Conflict("The job's adapter was deleted.")
        : WolverineContinue.NoProblems;

    [WolverinePost("/admin/jobs/{id}/retry", OperationId = "retryJob")]
    [Tags("Jobs")]
    [EndpointSummary("Retry a failed job")]
    [EndpointDescription("Queues a Failed job again, on its adapter, as a new attempt. Only a failed job whose params were not erased and whose adapter still exists can be retried (409 otherwise).")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (RetryRequested, Events, OutgoingMessages) Post(
        Guid id, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] Job job, [NotBody] Adapter adapter, TimeProvider clock, FairShare fairShare)
    {
        var events = JobLifecycle.OnRetry(job, "admin", clock.GetUtcNow());
        return (new RetryRequested(id), [.. events], events.Count > 0 ? [fairShare.Deliver(id, job.ServiceId, adapter, JobLifecycle.RetryGeneration(job))] : []);
    }
}
