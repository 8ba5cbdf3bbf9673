using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

public sealed record JobCount(string Adapter, JobState State, int Count);

public static class CountJobsEndpoint
{
    // The counts ignore these parameters, but they shared the search's checks when both lived in one class: kept so the
    // contract (the parameters listed in the API document, the 422 on bad ones) stays as it was.
    public static ProblemDetails Validate(int? page, int? pageSize, DateTimeOffset? from, DateTimeOffset? to) =>
        Paging.Check(page, pageSize) is { } paging ? paging
        : from > to ? Problems.Invalid(("from", "Must not be after 'to'."))
        : WolverineContinue.NoProblems;

    /// <summary>How many jobs each adapter has in each state (from the Job projection).</summary>
    [WolverineGet("/admin/jobs/counts", OperationId = "countJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Count jobs by adapter and state")]
    [EndpointDescription("How many jobs each adapter has in each state (from the Job projection).")]
    public static async Task<IReadOnlyList<JobCount>> Counts(IQuerySession session) =>
        (await session.Query<Job>().Select(j => new { j.AdapterName, j.State }).ToListAsync())
        .GroupBy(j => (j.AdapterName, j.State)).Select(g => new JobCount(g.Key.AdapterName, g.Key.State, g.Count()))
        .OrderBy(c => c.Adapter).ThenBy(c => c.State).ToList();
}
