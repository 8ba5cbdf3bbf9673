namespace NotificationService.Client;

// The pages the admin and client lists answer, in one place: by number, by an array's Link cursor, by a body's cursor.

/// <summary>
/// A page of a list that is paged by number (<c>page</c>, <c>pageSize</c>). <see cref="Total"/> counts the matches up to
/// 1,000; with more, it is 1,000 and <see cref="TotalIsExact"/> is false.
/// </summary>
public sealed record PagedResult<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total, bool TotalIsExact = true);

/// <summary>
/// A page of a list that answers an array (services, adapters, invites) when asked for by <c>limit</c> and
/// <c>after</c>: pass <see cref="Next"/> (null on the last page) as the next call's <c>after</c>.
/// </summary>
public sealed record ListPage<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>
/// A page of a list that pages by cursor or by number (dead letters, operator actions, erasures): pass
/// <see cref="Next"/> (null on the last page) as the next call's <c>after</c>. <see cref="Page"/> is null for a page
/// asked for by cursor; <see cref="Total"/> counts the matches as in <see cref="PagedResult{T}"/>.
/// </summary>
public sealed record KeysetPage<T>(IReadOnlyList<T> Items, int? Page, int PageSize, long Total, bool TotalIsExact, string? Next);
