using System.Globalization;
using System.Security.Claims;
using System.Text;
using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

/// <summary>A page of jobs, newest first; <see cref="Next"/> is the cursor of the following page, null on the last one.</summary>
public sealed record JobPage(IReadOnlyList<JobView> Items, string? Next);

/// <summary>The parsed query of <c>GET /v1/jobs</c>, with what was wrong in it.</summary>
public sealed record JobSearch(
    Guid ServiceId, JobState? State, string? Adapter, Guid? OfferId, DateTimeOffset? CreatedFrom, DateTimeOffset? CreatedTo,
    Dictionary<string, string>? Metadata, int Limit, JobCursor? Cursor, List<(string Field, string Message)> Errors);

/// <summary>
/// A service searches its own jobs. Keyset paging on (createdAt desc, id desc), never OFFSET, so a deep page costs what
/// the first does and jobs arriving meanwhile (newer than any cursor) neither repeat nor hide others.
/// </summary>
public static class ListJobsEndpoint
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>The query parameters besides metadata.&lt;key&gt; (any other is refused, naming it).</summary>
    public static readonly string[] Parameters = ["state", "adapter", "offerId", "createdFrom", "createdTo", "limit", "cursor"];

    public static JobSearch Load(
        string? state, string? adapter, string? offerId, string? createdFrom, string? createdTo, string? limit, string? cursor,
        HttpContext context, ClaimsPrincipal user, IDataProtectionProvider protection)
    {
        var serviceId = user.ServiceId();
        var errors = new List<(string Field, string Message)>();
        var parsedState = JobFilter.ParseState(state, "state", errors);
        if (adapter is { Length: 0 }) errors.Add(("adapter", "An adapter name, or leave it out."));
        Guid? parsedOffer = null;
        if (offerId is not null)
        {
            if (Guid.TryParse(offerId, out var id)) parsedOffer = id;
            else errors.Add(("offerId", "An offer id (a UUID)."));
        }
        var from = JobFilter.ParseTime(createdFrom, "createdFrom", errors);
        var to = JobFilter.ParseTime(createdTo, "createdTo", errors);
        if (from > to) errors.Add(("createdFrom", "Must not be after createdTo."));
        var parsedLimit = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out parsedLimit) || parsedLimit is < 1 or > MaxLimit))
            errors.Add(("limit", $"A whole number from 1 to {MaxLimit}."));
        JobCursor? parsedCursor = null;
        if (cursor is not null && (parsedCursor = JobCursor.Decode(protection, cursor, serviceId)) is null)
            errors.Add(("cursor", "Not a cursor of this service's job listing: pass the 'next' of the previous page unchanged."));
        var metadata = MetadataFilter.Parse(context.Request.Query, errors, Parameters);
        return new JobSearch(serviceId, parsedState, adapter, parsedOffer, from, to, metadata, parsedLimit, parsedCursor, errors);
    }

    public static ProblemDetails Validate(JobSearch search) =>
        search.Errors.Count > 0 ? Problems.Invalid([.. search.Errors]) : WolverineContinue.NoProblems;

    [WolverineGet("/v1/jobs", OperationId = "listJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Find this service's jobs")]
    [EndpointDescription("The calling service's jobs, newest first (createdAt, then id, descending), filtered by state, adapter "
        + "name, offer, creation time (createdFrom inclusive, createdTo exclusive, ISO 8601) and metadata.<key>=<value> on the "
        + "offer's metadata (several AND together, at most 10; e.g. `?metadata.customer=acme&metadata.region=eu`, described by "
        + "x-metadata-filters). Page with limit (1 to 200, default 50) and cursor: the next of the previous page, opaque; next is "
        + "null on the last page. Any other query parameter is a 422 naming it.")]
    [ProducesResponseType<JobPage>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(StatusCodes.Status422UnprocessableEntity)]
    public static async Task<JobPage> Get(JobSearch search, IQuerySession session, IDataProtectionProvider protection, CancellationToken ct)
    {
        var (sql, args) = ToSql(search);
        var jobs = await session.QueryAsync<Job>(sql, ct, [.. args]);
        var page = jobs.Take(search.Limit).ToList();
        var next = jobs.Count > search.Limit ? new JobCursor(search.ServiceId, page[^1].CreatedAt, page[^1].Id).Encode(protection) : null;
        return new JobPage(page.Select(JobView.From).ToList(), next);
    }

    /// <summary>The query (JobFilter, within the calling service); one row more than the page tells whether there is a next one.</summary>
    public static (string Sql, List<object> Args) ToSql(JobSearch search) =>
        new JobFilter(search.ServiceId, search.State, search.Adapter, search.OfferId, search.CreatedFrom, search.CreatedTo, search.Metadata)
            .PageSql(search.Cursor, search.Limit);
}
