using Marten;
using Marten.Pagination;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Retention;

public static class ListErasuresEndpoint
{
    public static ProblemDetails Validate(int? page, int? pageSize) => Paging.Check(page, pageSize) ?? WolverineContinue.NoProblems;

    /// <summary>The audit trail of data-subject erasures, newest first.</summary>
    [WolverineGet("/admin/erasures", OperationId = "listErasures")]
    [Tags("Retention")]
    [EndpointSummary("List the erasures")]
    [EndpointDescription("The audit trail of data-subject erasures, newest first, paged.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<PagedResult<Erasure>> Get(int? page, int? pageSize, IQuerySession session)
    {
        var erasures = await session.Query<Erasure>().OrderByDescending(e => e.At).ToPagedListAsync(page ?? 1, pageSize ?? 50);
        return new PagedResult<Erasure>(erasures.ToList(), (int)erasures.PageNumber, (int)erasures.PageSize, erasures.TotalItemCount);
    }
}
