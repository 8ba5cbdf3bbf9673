using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.Operations;

/// <summary>The operators' audit trail: every replay, discard, re-drive and rebuild, who did it and when, newest first.</summary>
public static class ListOperationsEndpoint
{
    public static ProblemDetails Validate(int? page, int? pageSize) => Paging.Check(page, pageSize) ?? WolverineContinue.NoProblems;

    [WolverineGet("/admin/operations", OperationId = "listOperations")]
    [Tags("Operations")]
    [EndpointSummary("List operator actions")]
    [EndpointDescription("Every dead-letter replay and discard, job re-drive and projection rebuild: who (the admin key's name), when, on what selection, and its progress (total, done, failed, status). Newest first, paged; `kind` filters.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static Task<PagedResult<Operation>> Get(OperationKind? kind, int? page, int? pageSize, IQuerySession session, CancellationToken ct)
    {
        var query = session.Query<Operation>().AsQueryable();
        if (kind is { } k) query = query.Where(o => o.Kind == k);
        return query.PageAsync(session, q => q.OrderByDescending(o => o.StartedAt), page, pageSize, o => o, ct);
    }
}

public static class GetOperationEndpoint
{
    [WolverineGet("/admin/operations/{id}", OperationId = "getOperation")]
    [Tags("Operations")]
    [EndpointSummary("Get an operator action")]
    [EndpointDescription("One operator action with its progress: a re-drive's total, done and failed counts and its status (Running until its last batch).")]
    [ProducesResponseType<ProblemDetails>(404, "application/problem+json")]
    public static Operation Get(Guid id, [Entity] Operation operation) => operation;
}
