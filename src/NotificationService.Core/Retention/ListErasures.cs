using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Retention;

public static class ListErasuresEndpoint
{
    public static PagingQuery Load(int? page, int? pageSize, string? after, IDataProtectionProvider protection) =>
        Paging.CheckWithCursor(page, pageSize, after, protection, ListCursor.Erasures);

    public static ProblemDetails Validate(PagingQuery paging) => paging.Problem ?? WolverineContinue.NoProblems;

    /// <summary>The audit trail of data-subject erasures, newest first.</summary>
    [WolverineGet("/admin/erasures", OperationId = "listErasures")]
    [Tags("Retention")]
    [EndpointSummary("List the erasures")]
    [EndpointDescription("The audit trail of data-subject erasures, newest first (then by id). Page with pageSize (1 to 200, default 50) and after: the next of the previous page, opaque (null on the last page); or with page (a number, OFFSET).")]
    [ProducesResponseType<KeysetPage<Erasure>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<KeysetPage<Erasure>> Get(int? page, int? pageSize, [NotBody] PagingQuery paging, IQuerySession session, IDataProtectionProvider protection, CancellationToken ct)
    {
        var number = paging.After is null ? page ?? 1 : (int?)null;
        var size = pageSize ?? 50;
        var (rows, total) = await Paging.NewestFirstAsync<Erasure>(session, "mt_doc_erasure", "at", "true", [], paging.After, number, size, ct);
        return Paging.Keyset(rows, total, number, size, e => new ListCursor(ListCursor.TimeKey(e.At), e.Id), e => e, ListCursor.Erasures, protection);
    }
}
