using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.Operations;

/// <summary>The operators' audit trail: every replay, discard, re-drive and rebuild, who did it and when, newest first.</summary>
public static class ListOperationsEndpoint
{
    public static PagingQuery Load(int? page, int? pageSize, string? after, IDataProtectionProvider protection) =>
        Paging.CheckWithCursor(page, pageSize, after, protection, ListCursor.Operations);

    public static ProblemDetails Validate(PagingQuery paging) => paging.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/admin/operations", OperationId = "listOperations")]
    [Tags("Operations")]
    [EndpointSummary("List operator actions")]
    [EndpointDescription("Every dead-letter replay and discard, job re-drive and projection rebuild: who (the admin key's name), when, on what selection, and its progress (total, done, failed, status). Newest first (started, then id, descending); `kind` filters. Page with pageSize (1 to 200, default 50) and after: the next of the previous page, opaque (null on the last page); or with page (a number, OFFSET).")]
    [ProducesResponseType<KeysetPage<Operation>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<KeysetPage<Operation>> Get(OperationKind? kind, int? page, int? pageSize, [NotBody] PagingQuery paging, IQuerySession session,
        IDataProtectionProvider protection, CancellationToken ct)
    {
        var number = paging.After is null ? page ?? 1 : (int?)null;
        var size = pageSize ?? 50;
        var (rows, total) = await Paging.NewestFirstAsync<Operation>(session, "mt_doc_operation", "startedAt",
            kind is null ? "true" : "d.data ->> 'kind' = ?", kind is { } k ? [k.ToString()] : [], paging.After, number, size, ct);
        return Paging.Keyset(rows, total, number, size, o => new ListCursor(ListCursor.TimeKey(o.StartedAt), o.Id), o => o, ListCursor.Operations, protection);
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
