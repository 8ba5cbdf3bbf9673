using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

public sealed record JobView(
    Guid Id, Guid OfferId, string Adapter, JobState State, JsonElement Params,
    DateTimeOffset CreatedAt, DateTimeOffset? SendAt, DateTimeOffset? ExpireAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int Attempts, string? LastError, int PossibleDuplicates, bool CancellationRequested, int Retries, bool PossiblyDelivered)
{
    public static JobView From(Job job) => new(job.Id, job.OfferId, job.AdapterName, job.State, job.Params,
        job.CreatedAt, job.SendAt, job.ExpireAt, job.StartedAt, job.FinishedAt,
        job.Attempts, job.LastError, job.PossibleDuplicates, job.CancellationRequested, job.Retries, job.PossiblyDelivered);
}

/// <summary>A service reads its own jobs; anyone else's job is indistinguishable from a missing one (404).</summary>
public static class GetJobEndpoint
{
    public static Task<Job?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Job>(id);

    public static ProblemDetails Validate(Job? job, ClaimsPrincipal user) =>
        job is null || job.ServiceId != user.ServiceId() ? Problems.NotFound("Job") : WolverineContinue.NoProblems;

    [WolverineGet("/v1/jobs/{id}")]
    public static JobView Get(Guid id, Job job) => JobView.From(job);

    [WolverineGet("/v1/jobs/{id}/events")]
    public static Task<IReadOnlyList<HistoryEntry>> GetEvents(Guid id, Job job, IQuerySession session) => HistoryEntry.ReadAsync(id, session);
}
