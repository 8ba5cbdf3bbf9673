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
}
