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
}
