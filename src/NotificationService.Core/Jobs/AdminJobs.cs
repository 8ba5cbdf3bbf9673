using Marten;
using JasperFx.Events;
using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;
using Marten.Pagination;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

/// <summary>An operator's view of a job: the client's view plus whose it is and what the provider answered to the last failed attempt.</summary>
public sealed record AdminJobView(Guid ServiceId, Guid AdapterId, JobView Job, string? LastErrorDetail)
{
    public static AdminJobView From(Job job) => new(job.ServiceId, job.AdapterId, JobView.From(job), job.LastErrorDetail);
}

public sealed record JobCount(string Adapter, JobState State, int Count);

/// <summary>Job history for admins and operators, across every service.</summary>
public static class AdminJobsEndpoint
{
    public static ProblemDetails Validate(int? page, int? pageSize, DateTimeOffset? from, DateTimeOffset? to) =>
        ListOffersEndpoint.CheckPaging(page, pageSize) is { } paging ? paging
        : from > to ? Problems.Invalid(("from", "Must not be after 'to'."))
        : WolverineContinue.NoProblems;

    /// <summary>Search by state, adapter (name), service and creation time; newest first.</summary>
    [WolverineGet("/admin/jobs", OperationId = "searchJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Search all jobs")]
    [EndpointDescription("Any service's jobs by state, adapter (name), service and creation time; newest first, paged.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<PagedResult<AdminJobView>> Search(
        JobState? state, string? adapter, Guid? service, DateTimeOffset? from, DateTimeOffset? to, int? page, int? pageSize, IQuerySession session)
    {
        var query = session.Query<Job>().AsQueryable();
        if (state is { } s) query = query.Where(j => j.State == s);
        if (adapter is not null) query = query.Where(j => j.AdapterName == adapter);
        if (service is { } serviceId) query = query.Where(j => j.ServiceId == serviceId);
        if (from is { } f) query = query.Where(j => j.CreatedAt >= f);
        if (to is { } t) query = query.Where(j => j.CreatedAt < t);
        var jobs = await query.OrderByDescending(j => j.CreatedAt).ToPagedListAsync(page ?? 1, pageSize ?? 50);
        return new PagedResult<AdminJobView>(jobs.Select(AdminJobView.From).ToList(),
            (int)jobs.PageNumber, (int)jobs.PageSize, jobs.TotalItemCount);
    }

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

public static class AdminJobEndpoint
{
    public static Task<Job?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Job>(id);

    public static ProblemDetails Validate(Job? job) => job is null ? Problems.NotFound("Job") : WolverineContinue.NoProblems;

    [WolverineGet("/admin/jobs/{id}", OperationId = "getAnyJob")]
    [Tags("Jobs")]
    [EndpointSummary("Get any job")]
    [EndpointDescription("One job of any service, with its params (unless erased), attempts and times.")]
    public static AdminJobView Get(Guid id, Job job) => AdminJobView.From(job);

    [WolverineGet("/admin/jobs/{id}/events", OperationId = "listAnyJobEvents")]
    [Tags("Jobs")]
    [EndpointSummary("Read any job's events")]
    [EndpointDescription("The full event stream of one job of any service, with each event's data.")]
    public static Task<IReadOnlyList<HistoryEntry>> GetEvents(Guid id, Job job, IQuerySession session) => HistoryEntry.ReadAsync(id, session);
}

public sealed record RetryRequested(Guid Id) : AcceptedResource($"/admin/jobs/{Id}");

/// <summary>Re-drives a failed job as a new attempt in the same stream.</summary>
public static class RetryJobEndpoint
{
    public static async Task<Adapter?> LoadAsync(Guid id, IQuerySession session) =>
        await session.LoadAsync<Job>(id) is { } job ? await session.LoadAsync<Adapter>(job.AdapterId) : null;

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
    public static (RetryRequested, OutgoingMessages) Post(
        Guid id, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] IEventStream<Job> stream, [NotBody] Adapter adapter, TimeProvider clock, FairShare fairShare)
    {
        stream.AppendOne(new JobRetryRequested(id, "admin", clock.GetUtcNow()));
        var message = new DeliverJob(id, adapter.Id, stream.Aggregate!.Generation);
        return (new RetryRequested(id), [message.ToDestination(Topology.QueueUri(adapter.Queue), fairShare.Next(stream.Aggregate.ServiceId, adapter.Id))]);
    }
}
