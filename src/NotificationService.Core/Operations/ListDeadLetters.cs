using System.Globalization;
using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Operations;

/// <summary>A dead letter as the admin API shows it (the stored message body is not shown: a job's params are not in it anyway).</summary>
public sealed record DeadLetterView(
    Guid Id, string Store, string MessageType, Guid? JobId, string? Adapter, string ExceptionType, string ExceptionMessage, string Failure,
    DateTimeOffset SentAt, string? ReceivedAt, bool Replayable)
{
    public static DeadLetterView From(DeadLetter l) =>
        new(l.Id, l.Store, l.MessageType, l.JobId, l.Adapter, l.ExceptionType, l.ExceptionMessage, l.Failure, l.SentAt, l.ReceivedAt, l.Replayable);
}

/// <summary>The listing's adapter filter and cursor, read before the checks.</summary>
public sealed record DeadLetterListing(AdapterFilter Filter, DeadLetterCursor? After, bool BadCursor)
{
    // The key is sent_at in ticks: PostgreSQL's microseconds survive the round trip exactly.
    public static ListCursor CursorOf(DeadLetter l) => new(l.SentAt.UtcTicks.ToString(CultureInfo.InvariantCulture), l.Id);

    public static DeadLetterCursor? Decode(IDataProtectionProvider protection, string text) =>
        ListCursor.Decode(protection, text, ListCursor.DeadLetters) is { } c
        && long.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) && ticks <= DateTimeOffset.MaxValue.UtcTicks
            ? new DeadLetterCursor(new DateTimeOffset(ticks, TimeSpan.Zero), c.Id)
            : null;
}

/// <summary>Dead letters, newest first, by the same filter a replay or discard takes.</summary>
public static class ListDeadLettersEndpoint
{
    public static async Task<DeadLetterListing> LoadAsync(string? adapter, string? after, IQuerySession session, IDataProtectionProvider protection, CancellationToken ct)
    {
        var cursor = after is null ? null : DeadLetterListing.Decode(protection, after);
        return new(await AdapterFilter.LoadAsync(adapter, session, ct), cursor, after is not null && cursor is null);
    }

    public static ProblemDetails Validate(DeadLetterListing listing, DateTimeOffset? from, DateTimeOffset? to, int? page, int? pageSize, string? after) =>
        Paging.Check(page, pageSize) is { } paging ? paging
        : listing.BadCursor ? Problems.Invalid(("after", "Not a cursor of this listing: pass the 'next' of the previous page unchanged."))
        : after is not null && page is not null ? Problems.Invalid(("page", "Give either page or after, not both."))
        : listing.Filter.Problem is { } unknown ? unknown
        : DeadLetters.WindowError(from, to) is { } window ? Problems.Invalid(window)
        : WolverineContinue.NoProblems;

    [WolverineGet("/admin/dead-letters", OperationId = "listDeadLetters")]
    [Tags("Operations")]
    [EndpointSummary("List dead letters")]
    [EndpointDescription("Messages that kept failing (a job's poison message, or a message of the core's own queues), newest first (sent, then id, descending): message type, job id and adapter when it was a job's, the exception and its failure shape (ids and numbers masked). Filters: adapter (name), messageType, exceptionType, failure, from/to on the time the message was sent. Page with pageSize (1 to 200, default 50) and after: the next of the previous page, opaque (null on the last page); or with page (a number, OFFSET).")]
    [ProducesResponseType<KeysetPage<DeadLetterView>>(StatusCodes.Status200OK)]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<KeysetPage<DeadLetterView>> Get(
        string? adapter, string? messageType, string? exceptionType, string? failure, DateTimeOffset? from, DateTimeOffset? to, int? page, int? pageSize,
        [NotBody] DeadLetterListing listing, IQuerySession session, IDataProtectionProvider protection, CancellationToken ct)
    {
        var number = listing.After is null ? page ?? 1 : (int?)null;
        var size = pageSize ?? 50;
        // One row more than the page tells whether a next page follows.
        var (total, items) = await DeadLetters.ReadAsync(session, new DeadLetterSelection(null, adapter, messageType, exceptionType, failure, from, to),
            listing.Filter.Found, await DeadLetters.AdaptersByQueueUriAsync(session, ct), size + 1, ((number ?? 1) - 1) * size, ct, listing.After);
        var shown = items.Take(size).ToList();
        var next = items.Count > size ? DeadLetterListing.CursorOf(shown[^1]).Encode(protection, ListCursor.DeadLetters) : null;
        return new KeysetPage<DeadLetterView>(shown.Select(DeadLetterView.From).ToList(), number, size, total, true, next);
    }
}
