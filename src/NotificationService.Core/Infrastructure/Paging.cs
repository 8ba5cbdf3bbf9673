using Marten;
using Marten.Linq;
using Marten.Linq.MatchesSql;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using Weasel.Postgresql.SqlGeneration;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// One page of an OFFSET-paged listing (offers, admin job search, erasures) and its total. <see cref="Total"/> counts the
/// matches up to <see cref="Paging.MaxCountedTotal"/>; beyond that it is that number and <see cref="TotalIsExact"/> is
/// false ("1,000 or more"), since counting a million matches exactly costs PostgreSQL hundreds of milliseconds on every page.
/// </summary>
public sealed record PagedResult<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total, bool TotalIsExact = true);

/// <summary>
/// A page of a listing that pages by cursor or, for the callers that came first, by number (dead letters, operator
/// actions, erasures), as <c>GET /admin/jobs</c>: <see cref="Next"/> is the following page's <c>after</c> (null on the
/// last), <see cref="Page"/> null when the page was asked for by cursor, <see cref="Total"/> the filter's matches.
/// </summary>
public sealed record KeysetPage<T>(IReadOnlyList<T> Items, int? Page, int PageSize, long Total, bool TotalIsExact, string? Next);

/// <summary>A listing's decoded <c>after</c>, or what was wrong with its page, pageSize or after.</summary>
public sealed record PagingQuery(ListCursor? After, ProblemDetails? Problem);

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

    /// <summary>How many matches a listing counts at most (<see cref="PagedResult{T}.TotalIsExact"/>).</summary>
    public const int MaxCountedTotal = 1_000;

    /// <summary>
    /// One page and the total as two statements: first the ids of at most <see cref="MaxCountedTotal"/> + 1 matches, in no
    /// order, which stops there; then the page. Where that found them all (a rare filter), the page is read by those ids
    /// and sorted, so the planner cannot choose to walk the order's index for a few matches among a million rows, which it
    /// did when its estimate for a rare metadata value was off (bench/README.md, "Reads at a million jobs, step 2").
    /// Otherwise the page is read off an index in order and stops at its last row. Marten's ToPagedListAsync puts
    /// count(*) OVER() on the page's own query instead, so PostgreSQL reads and sorts every matching document before it
    /// returns the first one (bench/README.md, "Cost as the data grows").
    /// </summary>
    public static async Task<PagedResult<TView>> PageAsync<T, TView>(this IQueryable<T> matches, IQuerySession session,
        Func<IQueryable<T>, IQueryable<T>> order, int? page, int? pageSize, Func<T, TView> view, CancellationToken cancellation) where T : notnull
    {
        var (number, size) = (page ?? 1, pageSize ?? 50);
        var (counted, ids) = await IdsUpToAsync(matches, session, MaxCountedTotal + 1, cancellation);
        var exact = counted <= MaxCountedTotal;
        if (exact && ids is not null)
        {
            // A fragment in a local, as everywhere (Architecture/when_a_query_filters_with_sql says why).
            var byId = new WhereFragment("d.id = ANY(?)", ids);
            matches = matches.Where(x => x.MatchesSql(byId));
        }
        // Past the last match there is nothing to read (Check bounds the offset within an int).
        var items = !exact || counted > (long)(number - 1) * size
            ? await order(matches).Skip((number - 1) * size).Take(size).ToListAsync(cancellation)
            : [];
        return new PagedResult<TView>(items.Select(view).ToList(), number, size, exact ? counted : MaxCountedTotal, exact);
    }

    /// <summary>
    /// One page of a document table newest first by <paramref name="timeField"/> (then id, descending), after
    /// <paramref name="after"/> by keyset or by <paramref name="page"/> number, with one row more than
    /// <paramref name="size"/> when a next page follows; and the matches counted as <see cref="PageAsync"/> counts them.
    /// <paramref name="where"/> is SQL on the document alias d with ? placeholders for <paramref name="args"/>.
    /// </summary>
    public static async Task<(IReadOnlyList<T> Rows, long Total)> NewestFirstAsync<T>(IQuerySession session, string table, string timeField,
        string where, object[] args, ListCursor? after, int? page, int size, CancellationToken ct)
    {
        var schema = Storage.NotificationStore.Schema;
        // The time as text through the stored value's own function, so both round their 100 ns digits alike (ListCursor.TimeKey).
        var time = $"{schema}.mt_immutable_timestamptz(d.data ->> '{timeField}')";
        var total = (await session.AdvancedSql.QueryAsync<long>(
            $"select count(*) from (select 1 from {schema}.{table} d where {where} limit {MaxCountedTotal + 1}) as limited", ct, args)).Single();
        var keyset = after is null ? "" : $" and ({time}, d.id) < ({schema}.mt_immutable_timestamptz(?), ?)";
        var rows = await session.QueryAsync<T>(
            $"select d.data from {schema}.{table} d where {where}{keyset} order by {time} desc, d.id desc limit {size + 1} offset {((page ?? 1) - 1) * size}",
            ct, after is null ? args : [.. args, after.Key, after.Id]);
        return (rows, total);
    }

    /// <summary>A <see cref="KeysetPage{T}"/> of <paramref name="rows"/> read by <see cref="NewestFirstAsync"/>.</summary>
    public static KeysetPage<TView> Keyset<T, TView>(IReadOnlyList<T> rows, long total, int? page, int size, Func<T, ListCursor> cursorOf,
        Func<T, TView> view, string purpose, IDataProtectionProvider protection)
    {
        var shown = rows.Take(size).ToList();
        var next = rows.Count > size ? cursorOf(shown[^1]).Encode(protection, purpose) : null;
        return new KeysetPage<TView>(shown.Select(view).ToList(), page, size, Math.Min(total, MaxCountedTotal), total <= MaxCountedTotal, next);
    }

    /// <summary>The page/after checks of a listing that pages both ways, with its cursor decoded (page XOR after).</summary>
    public static PagingQuery CheckWithCursor(int? page, int? pageSize, string? after, IDataProtectionProvider protection, string purpose)
    {
        if (Check(page, pageSize) is { } problem) return new(null, problem);
        if (after is null) return new(null, null);
        if (page is not null) return new(null, Problems.Invalid(("page", "Give either page or after, not both.")));
        return ListCursor.Decode(protection, after, purpose) is { } cursor
            ? new(cursor, null)
            : new(null, Problems.Invalid(("after", "Not a cursor of this listing: pass the 'next' of the previous page unchanged.")));
    }

    // Marten puts a Take on a count query as a LIMIT of the count's own single row, so this wraps the limited query Marten
    // builds (its filters and parameters as they are). The ids come back as one array of the id's type (uuid[], text[]).
    private static async Task<(long Count, object? Ids)> IdsUpToAsync<T>(IQueryable<T> matches, IQuerySession session, int limit, CancellationToken cancellation) where T : notnull
    {
        await using var command = matches.Take(limit).ToCommand(FetchType.FetchMany);
        command.CommandText = $"SELECT count(*), array_agg(limited.id) FROM ({command.CommandText.TrimEnd().TrimEnd(';')}) AS limited";
        await using var connection = session.Database.CreateConnection();
        await connection.OpenAsync(cancellation);
        command.Connection = connection;
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        await reader.ReadAsync(cancellation);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetValue(1));
    }
}
