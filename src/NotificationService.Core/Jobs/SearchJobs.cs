using System.Globalization;
using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

/// <summary>
/// A page of the admin job search, newest first. <see cref="Next"/> is the cursor of the following page (null on the last);
/// <see cref="Page"/> is null when the page was asked for by cursor. <see cref="Total"/> counts the filter's matches as
/// <see cref="PagedResult{T}"/> does.
/// </summary>
public sealed record AdminJobPage(IReadOnlyList<AdminJobView> Items, int? Page, int PageSize, long Total, bool TotalIsExact, string? Next);

/// <summary>The parsed query of <c>GET /admin/jobs</c>, with what was wrong in it.</summary>
public sealed record AdminJobSearch(JobFilter Filter, int? Page, int PageSize, JobCursor? After, List<(string Field, string Message)> Errors);

/// <summary>
/// Job history for admins and operators, across every service. Pages by cursor (keyset on createdAt desc, id desc, as
/// GET /v1/jobs) or, for the callers that came first, by page number (OFFSET).
/// </summary>
public static class SearchJobsEndpoint
{
    public const int DefaultPageSize = 50;

    /// <summary>The query parameters besides metadata.&lt;key&gt; (any other is refused, naming it).</summary>
    public static readonly string[] Parameters = ["state", "adapter", "service", "offerId", "from", "to", "page", "pageSize", "after"];

    public static AdminJobSearch Load(
        string? state, string? adapter, string? service, string? offerId, string? from, string? to, string? page, string? pageSize, string? after,
        HttpContext context, IDataProtectionProvider protection)
    {
        var errors = new List<(string Field, string Message)>();
        var parsedState = JobFilter.ParseState(state, "state", errors);
        if (adapter is { Length: 0 }) errors.Add(("adapter", "An adapter name, or leave it out."));
        var parsedService = ParseId(service, "service", "A service id (a UUID).", errors);
        var parsedOffer = ParseId(offerId, "offerId", "An offer id (a UUID).", errors);
        var parsedFrom = JobFilter.ParseTime(from, "from", errors);
        var parsedTo = JobFilter.ParseTime(to, "to", errors);
        if (parsedFrom > parsedTo) errors.Add(("from", "Must not be after 'to'."));
        var parsedPage = ParseNumber(page, "page", Paging.MaxPage, errors);
        var parsedSize = ParseNumber(pageSize, "pageSize", Paging.MaxPageSize, errors) ?? DefaultPageSize;
        JobCursor? cursor = null;
        if (after is not null && (cursor = JobCursor.Decode(protection, after, Guid.Empty, JobCursor.AdminPurpose)) is null)
            errors.Add(("after", "Not a cursor of this listing: pass the 'next' of the previous page unchanged."));
        if (after is not null && page is not null) errors.Add(("page", "Give either page or after, not both."));
        var metadata = MetadataFilter.Parse(context.Request.Query, errors, Parameters);
        return new AdminJobSearch(new JobFilter(parsedService, parsedState, adapter, parsedOffer, parsedFrom, parsedTo, metadata),
            after is null ? parsedPage ?? 1 : null, parsedSize, cursor, errors);
    }

    private static Guid? ParseId(string? value, string field, string message, List<(string, string)> errors)
    {
        if (value is null) return null;
        if (Guid.TryParse(value, out var id)) return id;
        errors.Add((field, message));
        return null;
    }

    private static int? ParseNumber(string? value, string field, int max, List<(string, string)> errors)
    {
        if (value is null) return null;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 1 && number <= max) return number;
        errors.Add((field, $"Between 1 and {max}."));
        return null;
    }

    public static ProblemDetails Validate(AdminJobSearch search) =>
        search.Errors.Count > 0 ? Problems.Invalid([.. search.Errors]) : WolverineContinue.NoProblems;

    [WolverineGet("/admin/jobs", OperationId = "searchJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Search all jobs")]
    [EndpointDescription("Any service's jobs, newest first (createdAt, then id, descending), filtered by state, adapter (name), service, "
        + "offerId, creation time (from inclusive, to exclusive, ISO 8601) and metadata.<key>=<value> on the offer's metadata (several AND "
        + "together, at most 10, described by x-metadata-filters). Page with pageSize (1 to 200, default 50) and after: the next of the "
        + "previous page, opaque (null on the last page); or with page (a number, OFFSET: deep pages cost more). total counts the matches "
        + "up to 1,000 (totalIsExact false beyond). Any other query parameter is a 422 naming it.")]
    [ProducesResponseType<AdminJobPage>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(StatusCodes.Status422UnprocessableEntity)]
    public static async Task<AdminJobPage> Search(AdminJobSearch search, IQuerySession session, IDataProtectionProvider protection, CancellationToken ct)
    {
        var (idsSql, idsArgs) = search.Filter.MatchIdsSql(Paging.MaxCountedTotal + 1);
        var matched = (await session.AdvancedSql.QueryAsync<string>(idsSql, ct, [.. idsArgs])).Single().Split(',', StringSplitOptions.RemoveEmptyEntries);
        var counted = matched.Length;
        var offset = search.Page is { } page ? (page - 1) * search.PageSize : 0;
        var exact = counted <= Paging.MaxCountedTotal;
        // Past the last match there is nothing to read.
        IReadOnlyList<Job> jobs = [];
        if (!exact || counted > offset)
        {
            // Where the count found every match, the page is read by their ids (JobFilter.PageSql).
            var (sql, args) = search.Filter.PageSql(search.After, search.PageSize, offset,
                exact ? [.. matched.Select(Guid.Parse)] : null);
            jobs = await session.QueryAsync<Job>(sql, ct, [.. args]);
        }
        var items = jobs.Take(search.PageSize).ToList();
        var next = jobs.Count > search.PageSize ? new JobCursor(Guid.Empty, items[^1].CreatedAt, items[^1].Id).Encode(protection, JobCursor.AdminPurpose) : null;
        return new AdminJobPage(items.Select(AdminJobView.From).ToList(), search.Page, search.PageSize, exact ? counted : Paging.MaxCountedTotal, exact, next);
    }
}
