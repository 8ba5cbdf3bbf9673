using System.Security.Claims;
using Marten;
using Marten.Linq.MatchesSql;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using Weasel.Postgresql.SqlGeneration;
using Wolverine.Http;

namespace NotificationService.Core.Offers;

public sealed record OfferSummary(Guid Id, DateTimeOffset CreatedAt, DateTimeOffset? SendAt, DateTimeOffset? DeletedAt, int Jobs);

public static class ListOffersEndpoint
{
    /// <summary>The query parameters besides metadata.&lt;key&gt; (any other is refused, naming it).</summary>
    public static readonly string[] Parameters = ["page", "pageSize"];

    public static ProblemDetails Validate(int? page, int? pageSize, HttpContext context)
    {
        if (Paging.Check(page, pageSize) is { } paging) return paging;
        var errors = new List<(string Field, string Message)>();
        MetadataFilter.Parse(context.Request.Query, errors, Parameters);
        return errors.Count > 0 ? Problems.Invalid([.. errors]) : WolverineContinue.NoProblems;
    }

    /// <summary>This service's offers, newest first; <c>metadata.&lt;key&gt;=&lt;value&gt;</c> keeps those whose metadata holds every pair.</summary>
    [WolverineGet("/v1/offers", OperationId = "listOffers")]
    [Tags("Offers")]
    [EndpointSummary("List your offers")]
    [EndpointDescription("This service's offers, newest first, paged. `metadata.<key>=<value>` (repeatable with other keys, ANDed) keeps the offers whose metadata holds every pair, e.g. `?metadata.customer=acme&metadata.region=eu` (described by x-metadata-filters). Any other query parameter is a 422 naming it.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<PagedResult<OfferSummary>> Get(int? page, int? pageSize, ClaimsPrincipal user, HttpContext context, IQuerySession session)
    {
        var serviceId = user.ServiceId();
        var metadata = MetadataFilter.Parse(context.Request.Query, [], Parameters); // Validate has refused bad filters
        if (metadata is { Count: 1 })
        {
            var (key, value) = metadata.Single();
            return await OfferMetadataIndex.PageAsync(session, serviceId, key, value, page, pageSize, Summary, context.RequestAborted);
        }
        var query = session.Query<Offer>().Where(o => o.ServiceId == serviceId);
        // Several pairs: containment on data -> 'metadata', the expression the GIN index holds, which intersects them (one
        // pair's range of offer_metadata could be long and hold few offers with the others). A fragment in a local
        // (Architecture/when_a_query_filters_with_sql says why). Whether to start from the GIN index or from the service's
        // newest offers depends on the values, so the page is planned for them (PreparedStatements.PlannedEachTime; the
        // count runs unprepared anyway).
        if (metadata is not null)
        {
            var containment = new WhereFragment($"d.data -> 'metadata' @> ?::jsonb{PreparedStatements.PlannedEachTime}", MetadataFilter.ToContainment(metadata));
            query = query.Where(o => o.MatchesSql(containment));
        }
        return await query.PageAsync(session, q => q.OrderByDescending(o => o.CreatedAt), page, pageSize, Summary, context.RequestAborted);
    }

    private static OfferSummary Summary(Offer o) => new(o.Id, o.CreatedAt, o.SendAt, o.DeletedAt, o.Jobs.Count);
}
