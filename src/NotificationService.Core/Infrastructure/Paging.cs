using Marten;
using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

/// <summary>One page of an OFFSET-paged listing (offers, admin job search, erasures) and its total.</summary>
public sealed record PagedResult<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total);

/// <summary>The page and pageSize checks every OFFSET-paged listing shares.</summary>
public static class Paging
{
    public const int MaxPageSize = 200;

    /// <summary>The last page any page size may ask for: its OFFSET, (page - 1) * pageSize, stays within an int.</summary>
    public const int MaxPage = int.MaxValue / MaxPageSize;

    public static ProblemDetails? Check(int? page, int? pageSize) =>
        page is < 1 or > MaxPage ? Problems.Invalid(("page", $"Between 1 and {MaxPage}."))
        : pageSize is < 1 or > MaxPageSize ? Problems.Invalid(("pageSize", $"Between 1 and {MaxPageSize}."))
        : null;

    /// <summary>
    /// One page and the total as two statements: the page, read off an index in order and stopping at its last row, and
    /// the count, which reads no document. Marten's ToPagedListAsync puts count(*) OVER() on the page's own query instead,
    /// so PostgreSQL reads and sorts every matching document before it returns the first one (bench/README.md, "Cost as
    /// the data grows": seconds for the admin job search over a million jobs).
    /// </summary>
    public static async Task<PagedResult<TView>> PageAsync<T, TView>(
        this IQueryable<T> matches, Func<IQueryable<T>, IQueryable<T>> order, int? page, int? pageSize, Func<T, TView> view) where T : notnull
    {
        var (number, size) = (page ?? 1, pageSize ?? 50);
        var total = await matches.LongCountAsync();
        // Past the last match there is nothing to read (Check bounds the offset within an int).
        var items = total > (long)(number - 1) * size ? await order(matches).Skip((number - 1) * size).Take(size).ToListAsync() : [];
        return new PagedResult<TView>(items.Select(view).ToList(), number, size, total);
    }
}
