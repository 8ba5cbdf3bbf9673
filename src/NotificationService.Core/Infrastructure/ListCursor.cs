using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Where a page of an admin list ended: the last row's sort key (a name, or a time as <see cref="TimeKey"/>) and its id,
/// the tie-breaker. Protected like the job listings' cursor, each list under its own purpose, so a cursor is
/// opaque, works on every core instance, and an edited one or another list's is refused instead of silently moving the page.
/// </summary>
public sealed record ListCursor(string Key, Guid Id)
{
    public const string Services = "NotificationService.Admin.ServicesCursor.v1";
    public const string Adapters = "NotificationService.Admin.AdaptersCursor.v1";
    public const string Invites = "NotificationService.Admin.InvitesCursor.v1";
    public const string DeadLetters = "NotificationService.Admin.DeadLettersCursor.v1";
    public const string Operations = "NotificationService.Admin.OperationsCursor.v1";
    public const string Erasures = "NotificationService.Admin.ErasuresCursor.v1";

    /// <summary>
    /// A time as text, for SQL to parse with the same function as the stored document's: PostgreSQL rounds the 100 ns
    /// digits to microseconds, and a value rounded differently on each side would skip or repeat a row.
    /// </summary>
    public static string TimeKey(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public string Encode(IDataProtectionProvider protection, string purpose)
    {
        var key = Encoding.UTF8.GetBytes(Key);
        var bytes = new byte[16 + key.Length];
        Id.TryWriteBytes(bytes.AsSpan(0, 16));
        key.CopyTo(bytes, 16);
        return Base64Url.EncodeToString(protection.CreateProtector(purpose).Protect(bytes));
    }

    /// <summary>The cursor, or null when the text is not one this list gave out (malformed, edited, or another list's).</summary>
    public static ListCursor? Decode(IDataProtectionProvider protection, string text, string purpose)
    {
        byte[] bytes;
        try { bytes = protection.CreateProtector(purpose).Unprotect(Base64Url.DecodeFromChars(text)); }
        catch (Exception e) when (e is FormatException or CryptographicException) { return null; }
        if (bytes.Length < 16) return null;
        try { return new ListCursor(new UTF8Encoding(false, true).GetString(bytes, 16, bytes.Length - 16), new Guid(bytes.AsSpan(0, 16))); }
        catch (ArgumentException) { return null; }
    }
}

/// <summary>
/// The optional <c>limit</c> and <c>after</c> of a list that answers a JSON array (services, adapters, invites). With
/// neither the whole list, as before paging existed; with either one page, and a <c>Link: &lt;...&gt;; rel="next"</c>
/// header (RFC 8288) while more rows follow, so the body stays the array every existing caller reads.
/// </summary>
public sealed record ArrayPaging(int? Limit, ListCursor? After, List<(string Field, string Message)> Errors)
{
    public const int DefaultLimit = 50;

    public static ArrayPaging Parse(string? limit, string? after, IDataProtectionProvider protection, string purpose)
    {
        var errors = new List<(string, string)>();
        int? parsed = null;
        if (limit is not null)
        {
            if (int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 1 and <= Paging.MaxPageSize) parsed = number;
            else errors.Add(("limit", $"Between 1 and {Paging.MaxPageSize}."));
        }
        ListCursor? cursor = null;
        if (after is not null && (cursor = ListCursor.Decode(protection, after, purpose)) is null)
            errors.Add(("after", "Not a cursor of this list: pass the one of the previous page's Link rel=\"next\" unchanged."));
        return new ArrayPaging(parsed, cursor, errors);
    }

    public bool Paged => Limit is not null || After is not null;

    public int Size => Limit ?? DefaultLimit;

    public Microsoft.AspNetCore.Mvc.ProblemDetails? Problem => Errors.Count > 0 ? Problems.Invalid([.. Errors]) : null;

    /// <summary>
    /// The page of <paramref name="rows"/> (read with one row more than <see cref="Size"/>) and, when that extra row came,
    /// the Link header to the next page: this request's path (from the root, PathBase included; no scheme or host, so
    /// the host a proxy presents does not matter) and query, with <c>after</c> replaced.
    /// </summary>
    public IReadOnlyList<T> Page<T>(IReadOnlyList<T> rows, Func<T, ListCursor> cursorOf, string purpose, HttpContext context, IDataProtectionProvider protection)
    {
        if (rows.Count <= Size) return rows;
        var page = rows.Take(Size).ToList();
        // The query binds 'After' as 'after' too: drop it in any case, or the next link would carry two cursors.
        var query = context.Request.Query.Where(q => !string.Equals(q.Key, "after", StringComparison.OrdinalIgnoreCase)).SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v))).ToList();
        query.Add(new("after", cursorOf(page[^1]).Encode(protection, purpose)));
        context.Response.Headers.Append("Link", $"<{QueryHelpers.AddQueryString(context.Request.PathBase + context.Request.Path, query)}>; rel=\"next\"");
        return page;
    }
}
