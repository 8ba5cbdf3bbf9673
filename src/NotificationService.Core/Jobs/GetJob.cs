using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

/// <summary>
/// A job as its service sees it. <see cref="LastError"/> is the classified reason of the last attempt that failed, and
/// <see cref="LastErrorAttempt"/> says which attempt that was (a job Finished on attempt 2 keeps attempt 1's error).
/// </summary>
public sealed record JobView(
    Guid Id, Guid OfferId, string Adapter, JobState State, JsonElement Params,
    DateTimeOffset CreatedAt, DateTimeOffset? SendAt, DateTimeOffset? ExpireAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int Attempts, string? LastError, int? LastErrorAttempt, int PossibleDuplicates, bool CancellationRequested, int Retries, bool PossiblyDelivered)
{
    public static JobView From(Job job) => new(job.Id, job.OfferId, job.AdapterName, job.State, job.Params,
        job.CreatedAt, job.SendAt, job.ExpireAt, job.StartedAt, job.FinishedAt,
        job.Attempts, job.LastError, job.LastErrorAttempt, job.PossibleDuplicates, job.CancellationRequested, job.Retries, job.PossiblyDelivered);
}

/// <summary>A service reads its own jobs; anyone else's job is indistinguishable from a missing one (404).</summary>
public static class GetJobEndpoint
{
    public static Task<Job?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Job>(id);

    public static ProblemDetails Validate(Job? job, ClaimsPrincipal user) =>
        job is null || job.ServiceId != user.ServiceId() ? Problems.NotFound("Job") : WolverineContinue.NoProblems;

    [WolverineGet("/v1/jobs/{id}", OperationId = "getJob")]
    [Tags("Jobs")]
    [EndpointSummary("Get a job")]
    [EndpointDescription("One of this service's jobs: its state, adapter, attempts, times and last error.")]
    public static JobView Get(Guid id, Job job) => JobView.From(job);

    [WolverineGet("/v1/jobs/{id}/events", OperationId = "listJobEvents")]
    [Tags("Jobs")]
    [EndpointSummary("Read a job's events")]
    [EndpointDescription("What happened to one of this service's jobs, in order (JobQueued, JobStarted, JobAttemptFailed, JobFinished, ...), without the params.")]
    public static Task<IReadOnlyList<HistoryEntry>> GetEvents(Guid id, Job job, IQuerySession session) => HistoryEntry.ReadAsync(id, session, WithoutDetail);

    /// <summary>What a provider answered is for operators (the admin job events); the tenant gets the classified error.</summary>
    public static object WithoutDetail(object data) => data switch
    {
        JobAttemptFailed e => new { e.JobId, e.Attempt, e.Error, e.FailedAt, e.RetryAt },
        JobFailed e => new { e.JobId, e.Attempt, e.Error, e.FailedAt },
        _ => data,
    };
}
