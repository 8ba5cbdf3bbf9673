using System.Security.Claims;
using System.Text;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// A callback's delivery attempts, newest first, a page at a time: <c>next</c> is the cursor of the following page (null at
/// the end). The cursor is a keyset position (the last item's time and id), so pages stay correct while attempts are added.
/// </summary>
public static class GetCallbackDeliveriesEndpoint
{
    public const int MaxLimit = 200;

    public static Task<CallbackEndpoint?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(id);

    public static ProblemDetails Validate(CallbackEndpoint? callback, ClaimsPrincipal user, int? limit, string? cursor) =>
        GetCallbackEndpoint.Validate(callback, user) is var found && found != WolverineContinue.NoProblems ? found
        : limit is < 1 or > MaxLimit ? Problems.Invalid(("limit", $"Between 1 and {MaxLimit}."))
        : cursor is not null && Decode(cursor) is null ? Problems.Invalid(("cursor", "Not a cursor this API gave out; pass the 'next' of the previous page."))
        : WolverineContinue.NoProblems;

    [WolverineGet("/v1/callbacks/{id}/deliveries", OperationId = "listCallbackDeliveries")]
    [Tags("Callbacks")]
    [EndpointSummary("List a status callback's delivery attempts")]
    [EndpointDescription("Every attempt to deliver an event to the callback, newest first: when, the receiver's status code, the outcome " +
                         "(delivered, failed, gaveUp, skipped), the error and when the next attempt is due. Page with limit and cursor.")]
    [ProducesResponseType<CallbackDeliveryPage>(200)]
    [ProducesResponseType<ValidationProblemDetails>(422)]
    [ProducesResponseType<ProblemDetails>(404)]
    public static async Task<CallbackDeliveryPage> Get(Guid id, [NotBody] CallbackEndpoint callback, int? limit, string? cursor, IQuerySession session)
    {
        var take = limit ?? 50;
        // One more than the page, to know whether another follows.
        var rows = Decode(cursor) is { } after
            ? await session.QueryAsync<CallbackDelivery>(
                "where callback_id = ? and (attempted_at, id) < (?, ?) order by attempted_at desc, id desc limit ?", callback.Id, after.At, after.Id, take + 1)
            : await session.QueryAsync<CallbackDelivery>("where callback_id = ? order by attempted_at desc, id desc limit ?", callback.Id, take + 1);
        var page = rows.Take(take).Select(CallbackDeliveryView.From).ToList();
        return new CallbackDeliveryPage(page, rows.Count > take ? Encode(page[^1]) : null);
    }

    public static string Encode(CallbackDeliveryView last) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{last.AttemptedAt.UtcTicks}:{last.Id:N}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static (DateTimeOffset At, Guid Id)? Decode(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor) || cursor.Length > 100) return null;
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(padded + new string('=', (4 - padded.Length % 4) % 4)));
            var parts = text.Split(':');
            return parts.Length == 2 && long.TryParse(parts[0], out var ticks) && ticks >= DateTimeOffset.MinValue.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks
                   && Guid.TryParseExact(parts[1], "N", out var id)
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), id) : null;
        }
        catch (FormatException) { return null; }
    }
}
