using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using Wolverine.Http;

namespace NotificationService.Core.Adapters;

public static class ListAdaptersEndpoint
{
    public static ArrayPaging Load(string? limit, string? after, IDataProtectionProvider protection) =>
        ArrayPaging.Parse(limit, after, protection, ListCursor.Adapters);

    public static ProblemDetails Validate(ArrayPaging paging) => paging.Problem ?? WolverineContinue.NoProblems;

    /// <summary>Every adapter in the system, blocked ones included.</summary>
    [WolverineGet("/admin/adapters", OperationId = "listAllAdapters")]
    [Tags("Adapters")]
    [EndpointSummary("List all adapters")]
    [EndpointDescription("Every adapter in the system, blocked ones included, by name (then id), each with its live workers, queue depth, " +
                         "oldest waiting job and status under `live`. Without limit and after: the whole list. With limit (1 to 200) and/or " +
                         "after (default limit 50): one page, and while more follow a Link header (RFC 8288) " +
                         "`</admin/adapters?limit=25&after=...>; rel=\"next\"`, the next page's relative URL; after is opaque.")]
    [ProducesResponseType<IReadOnlyList<AdapterView>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<IReadOnlyList<AdapterView>> List(
        ArrayPaging paging, IQuerySession session, AdapterLiveness liveness, HttpContext context, IDataProtectionProvider protection, CancellationToken ct)
    {
        IReadOnlyList<Adapter> adapters;
        if (!paging.Paged) adapters = await session.Query<Adapter>().OrderBy(a => a.Name).ToListAsync(ct);
        else
        {
            // The keyset on (name, id), in the same SQL collation as the whole list's order by name.
            var (after, args) = paging.After is { } cursor ? (" where (d.data ->> 'name', d.id) > (?, ?)", new object[] { cursor.Key, cursor.Id }) : ("", []);
            adapters = paging.Page(await session.QueryAsync<Adapter>(
                    $"select d.data from {NotificationStore.Schema}.mt_doc_adapter d{after} order by d.data ->> 'name', d.id limit {paging.Size + 1}", ct, args),
                a => new ListCursor(a.Name, a.Id), ListCursor.Adapters, context, protection);
        }
        var live = await liveness.ReadAsync(session, adapters, ct);
        return adapters.Select(a => AdapterView.From(a) with { Live = live[a.Id] }).ToList();
    }
}
