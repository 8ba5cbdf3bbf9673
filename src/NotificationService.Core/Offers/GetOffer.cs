using System.Security.Claims;
using Marten;
using Marten.Linq.MatchesSql;
using Marten.Pagination;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Offers;

public sealed record OfferView(
    Guid Id, DateTimeOffset CreatedAt, DateTimeOffset? ExpireAt, DateTimeOffset? SendAt, Dictionary<string, string>? Metadata,
    DateTimeOffset? DeletedAt, IReadOnlyList<JobView> Jobs)
{
    public static OfferView From(Offer offer, IEnumerable<Job> jobs)
    {
        var byId = jobs.ToDictionary(j => j.Id);
        return new OfferView(offer.Id, offer.CreatedAt, offer.ExpireAt, offer.SendAt, offer.Metadata, offer.DeletedAt,
            offer.Jobs.Where(j => byId.ContainsKey(j.JobId)).Select(j => JobView.From(byId[j.JobId])).ToList());
    }
}

public sealed record OfferSummary(Guid Id, DateTimeOffset CreatedAt, DateTimeOffset? SendAt, DateTimeOffset? DeletedAt, int Jobs);

public sealed record PagedResult<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total);

public static class GetOfferEndpoint
{
    public static Task<Offer?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Offer>(id);

    public static ProblemDetails Validate(Offer? offer, ClaimsPrincipal user) =>
        offer is null || offer.ServiceId != user.ServiceId() ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    /// <summary>The offer with each of its jobs' current state.</summary>
    [WolverineGet("/v1/offers/{id}", OperationId = "getOffer")]
    [Tags("Offers")]
    [EndpointSummary("Get an offer")]
    [EndpointDescription("The offer with each of its jobs' current state.")]
    public static async Task<OfferView> Get(Guid id, Offer offer, IQuerySession session) =>
        OfferView.From(offer, await session.LoadManyAsync<Job>(offer.Jobs.Select(j => j.JobId)));
}

public static class ListOffersEndpoint
{
    public const int MaxPageSize = 200;

    /// <summary>The query parameters besides metadata.&lt;key&gt; (any other is refused, naming it).</summary>
    public static readonly string[] Parameters = ["page", "pageSize"];

    /// <summary>The last page any page size may ask for: its OFFSET, (page - 1) * pageSize, stays within an int.</summary>
    public const int MaxPage = int.MaxValue / MaxPageSize;

    public static ProblemDetails Validate(int? page, int? pageSize, HttpContext context)
    {
        if (CheckPaging(page, pageSize) is { } paging) return paging;
        var errors = new List<(string Field, string Message)>();
        MetadataFilter.Parse(context.Request.Query, errors, Parameters);
        return errors.Count > 0 ? Problems.Invalid([.. errors]) : WolverineContinue.NoProblems;
    }

    public static ProblemDetails? CheckPaging(int? page, int? pageSize) =>
        page is < 1 or > MaxPage ? Problems.Invalid(("page", $"Between 1 and {MaxPage}."))
        : pageSize is < 1 or > MaxPageSize ? Problems.Invalid(("pageSize", $"Between 1 and {MaxPageSize}."))
        : null;

    /// <summary>This service's offers, newest first; <c>metadata.&lt;key&gt;=&lt;value&gt;</c> keeps those whose metadata holds every pair.</summary>
    [WolverineGet("/v1/offers", OperationId = "listOffers")]
    [Tags("Offers")]
    [EndpointSummary("List your offers")]
    [EndpointDescription("This service's offers, newest first, paged. `metadata.<key>=<value>` (repeatable with other keys, ANDed) keeps the offers whose metadata holds every pair, e.g. `?metadata.customer=acme&metadata.region=eu` (described by x-metadata-filters). Any other query parameter is a 422 naming it.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<PagedResult<OfferSummary>> Get(int? page, int? pageSize, ClaimsPrincipal user, HttpContext context, IQuerySession session)
    {
        var serviceId = user.ServiceId();
        var query = session.Query<Offer>().Where(o => o.ServiceId == serviceId);
        // Containment on data -> 'metadata', the expression the GIN index holds (Validate has refused bad filters).
        if (MetadataFilter.Parse(context.Request.Query, [], Parameters) is { } metadata)
            query = query.Where(o => o.MatchesSql("d.data -> 'metadata' @> ?::jsonb", MetadataFilter.ToContainment(metadata)));
        var offers = await query.OrderByDescending(o => o.CreatedAt).ToPagedListAsync(page ?? 1, pageSize ?? 50);
        return new PagedResult<OfferSummary>(offers.Select(o => new OfferSummary(o.Id, o.CreatedAt, o.SendAt, o.DeletedAt, o.Jobs.Count)).ToList(),
            (int)offers.PageNumber, (int)offers.PageSize, offers.TotalItemCount);
    }
}
