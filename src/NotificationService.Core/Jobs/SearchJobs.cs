using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

/// <summary>Job history for admins and operators, across every service.</summary>
public static class SearchJobsEndpoint
{
    public static ProblemDetails Validate(int? page, int? pageSize, DateTimeOffset? from, DateTimeOffset? to) =>
        Paging.Check(page, pageSize) is { } paging ? paging
        : from > to ? Problems.Invalid(("from", "Must not be after 'to'."))
        : WolverineContinue.NoProblems;

    /// <summary>Search by state, adapter (name), service and creation time; newest first.</summary>
    [WolverineGet("/admin/jobs", OperationId = "searchJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Search all jobs")]
    [EndpointDescription("Any service's jobs by state, adapter (name), service and creation time; newest first, paged.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<PagedResult<AdminJobView>> Search(
        JobState? state, string? adapter, Guid? service, DateTimeOffset? from, DateTimeOffset? to, int? page, int? pageSize, IQuerySession session,
        CancellationToken cancellation)
    {
        var query = session.Query<Job>().AsQueryable();
        if (state is { } s) query = query.Where(j => j.State == s);
        if (adapter is not null) query = query.Where(j => j.AdapterName == adapter);
        if (service is { } serviceId) query = query.Where(j => j.ServiceId == serviceId);
        if (from is { } f) query = query.Where(j => j.CreatedAt >= f);
        if (to is { } t) query = query.Where(j => j.CreatedAt < t);
        return await query.PageAsync(session, q => q.OrderByDescending(j => j.CreatedAt), page, pageSize, AdminJobView.From, cancellation);
    }
}
