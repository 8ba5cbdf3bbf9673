using System.Security.Claims;
using Marten;
using Marten.Linq.MatchesSql;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Weasel.Postgresql.SqlGeneration;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public sealed record TemplateSummary(string Key, string Type, string DefaultLocale, IReadOnlyList<string> Locales, long Version, bool Shared, DateTimeOffset UpdatedAt);

public static class ListTemplatesEndpoint
{
    public static ProblemDetails Validate(int? page, int? pageSize) => Paging.Check(page, pageSize) ?? WolverineContinue.NoProblems;

    [WolverineGet("/v1/templates", OperationId = "listTemplates")]
    [Tags("Templates")]
    [EndpointSummary("List your templates")]
    [EndpointDescription("Your templates and the shared ones granted to you, by key, paged. A shared template whose key you also use is hidden by yours (and listed only once).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static Task<PagedResult<TemplateSummary>> Get(int? page, int? pageSize, ClaimsPrincipal user, HttpContext context, IQuerySession session)
    {
        var serviceId = user.ServiceId();
        // A shared template hidden by one of the service's own keys is left out, so every key shows once and the page is
        // what the service would use. A fragment in a local (Architecture/when_a_query_filters_with_sql says why).
        var notHidden = new WhereFragment(
            $"NOT EXISTS (SELECT 1 FROM {NotificationService.Storage.NotificationStore.Schema}.mt_doc_template own WHERE own.data ->> 'ownerId' = ? AND own.data ->> 'key' = d.data ->> 'key')",
            serviceId.ToString());
        var query = session.Query<Template>().Where(t => t.OwnerId == serviceId
            || (t.OwnerId == Guid.Empty && t.SharedWith.Contains(serviceId) && t.MatchesSql(notHidden)));
        return query.PageAsync(session, q => q.OrderBy(t => t.Key).ThenBy(t => t.OwnerId), page, pageSize,
            t => new TemplateSummary(t.Key, t.Type, t.DefaultLocale, t.Variants.Keys.Order().ToList(), t.Version, t.IsShared, t.UpdatedAt),
            context.RequestAborted);
    }
}
