using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using NotificationService.Storage;
using Wolverine.Http;

namespace NotificationService.Core.ServiceAdmin;

public static class ListServicesEndpoint
{
    public static ArrayPaging Load(string? limit, string? after, IDataProtectionProvider protection) =>
        ArrayPaging.Parse(limit, after, protection, ListCursor.Services);

    public static ProblemDetails Validate(ArrayPaging paging) => paging.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/admin/services", OperationId = "listServices")]
    [Tags("Services")]
    [EndpointSummary("List the services")]
    [EndpointDescription("Every client service by name (then id), with its status and keys (never the keys themselves). Without limit and "
        + "after: the whole list. With limit (1 to 200) and/or after (default limit 50): one page, and while more follow a Link header "
        + "(RFC 8288) `</admin/services?limit=25&after=...>; rel=\"next\"`, the next page's relative URL; after is opaque.")]
    [ProducesResponseType<IReadOnlyList<ServiceView>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<IReadOnlyList<ServiceView>> Get(ArrayPaging paging, IQuerySession session, HttpContext context, IDataProtectionProvider protection, CancellationToken ct)
    {
        IReadOnlyList<ServiceAccount> services;
        if (!paging.Paged) services = await session.Query<ServiceAccount>().OrderBy(s => s.Name).ToListAsync(ct);
        else
        {
            // The keyset on (name, id), in the same SQL collation as the whole list's order by name.
            var (after, args) = paging.After is { } cursor ? (" where (d.data ->> 'name', d.id) > (?, ?)", new object[] { cursor.Key, cursor.Id }) : ("", []);
            services = paging.Page(await session.QueryAsync<ServiceAccount>(
                    $"select d.data from {NotificationStore.Schema}.mt_doc_serviceaccount d{after} order by d.data ->> 'name', d.id limit {paging.Size + 1}", ct, args),
                s => new ListCursor(s.Name, s.Id), ListCursor.Services, context, protection);
        }
        var ids = services.Select(s => s.Id).ToArray();
        var keys = paging.Paged
            ? (await session.Query<ServiceKey>().Where(k => ids.Contains(k.ServiceId)).ToListAsync(ct)).ToDictionary(k => k.KeyId)
            : (await session.Query<ServiceKey>().ToListAsync(ct)).ToDictionary(k => k.KeyId);
        return services.Select(s => ServiceView.From(s, keys)).ToList();
    }
}
