using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

public static class GetAnyJobEndpoint
{
    public static Task<Job?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Job>(id);

    public static ProblemDetails Validate(Job? job) => job is null ? Problems.NotFound("Job") : WolverineContinue.NoProblems;

    [WolverineGet("/admin/jobs/{id}", OperationId = "getAnyJob")]
    [Tags("Jobs")]
    [EndpointSummary("Get any job")]
    [EndpointDescription("One job of any service, with its params (unless erased), attempts and times.")]
    public static AdminJobView Get(Guid id, Job job) => AdminJobView.From(job);

    // Its events, in the same class: the same load and 404 serve both routes.
    [WolverineGet("/admin/jobs/{id}/events", OperationId = "listAnyJobEvents")]
    [Tags("Jobs")]
    [EndpointSummary("Read any job's events")]
    [EndpointDescription("The full event stream of one job of any service, with each event's data.")]
    public static Task<IReadOnlyList<HistoryEntry>> GetEvents(Guid id, Job job, IQuerySession session) => HistoryEntry.ReadAsync(id, session);
}
