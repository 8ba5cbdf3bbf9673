using JasperFx.Core;
using Marten;
using NotificationService.Core.Infrastructure;
using Wolverine.ErrorHandling;
using Wolverine.Runtime.Handlers;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// One event for one callback, as stored in the durable <c>callbacks</c> queue. <see cref="Body"/> is made once, when the
/// event is dispatched, so every attempt sends the same bytes; <see cref="Attempt"/> counts from 1.
/// </summary>
public sealed record DeliverCallback(Guid CallbackId, Guid EventId, string EventType, Guid JobId, string Url, string Body, int Attempt);

public static class DeliverCallbackHandler
{
    /// <summary>
    /// A PostgreSQL blip (loading the callback, storing the attempt) is waited out and then retried later, never
    /// dead-lettered: the attempt is sent again (receivers de-duplicate by the event id) and recorded.
    /// </summary>
    public static void Configure(HandlerChain chain)
    {
        chain.OnException<Exception>(IsTransientDatabase).RetryWithCooldown(250.Milliseconds(), 1.Seconds(), 2.Seconds())
            .Then.ScheduleRetry(5.Seconds(), 30.Seconds(), 60.Seconds(), 300.Seconds());
    }

    public static bool IsTransientDatabase(Exception e) => TransientDatabaseErrors.Matches(e);

    public static Task<CallbackEndpoint?> LoadAsync(DeliverCallback message, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(message.CallbackId);

    /// <summary>
    /// Posts the event and records the attempt. A failure is counted against the callback (disabling it past the bound)
    /// and parked for its retry (<see cref="ParkedCallback"/>); over the service's or the callback's in-flight cap the
    /// delivery is parked for a second. A deleted callback gets nothing more; a disabled one records the delivery as skipped.
    /// </summary>
    public static async Task HandleAsync(
        DeliverCallback message, CallbackEndpoint? callback, IDocumentSession session, CallbackSender sender, CallbackSecrets secrets,
        CallbackInFlight inFlight, CallbackSettings settings, TimeProvider clock, ILogger<CallbackSender> logger, CancellationToken cancellation)
    {
        if (callback is null) return; // deleted: its pending deliveries end here
        var now = Truncate(clock.GetUtcNow());
        if (!callback.Enabled)
        {
            session.Store(Record(message, now, null, DeliveryOutcomes.Skipped, $"The callback is disabled: {callback.DisabledReason}", 0, null));
            return;
        }
        string secret;
        try { secret = secrets.Unprotect(callback.ProtectedSecret); }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            // Permanent (the key ring lost the key): retrying cannot help, so it is recorded, not dead-lettered unseen.
            logger.LogError(e, "The secret of callback {CallbackId} cannot be decrypted", callback.Id);
            session.Store(Record(message, now, null, DeliveryOutcomes.GaveUp, "The callback's secret cannot be read; delete the callback and register it again.", 0, null));
            return;
        }
        // The offer's metadata as it is now, not as dispatched: an offer erased since must not have it sent on a later retry.
        // Rendered before a delivery slot is taken, and signed as sent.
        var toSend = message with { Body = await CallbackMetadata.RenderAsync(message.Body, session, cancellation) };
        if (!await inFlight.TryEnterAsync(callback.ServiceId, settings.MaxInFlightPerService, callback.Id, settings.MaxInFlightPerCallback, cancellation))
        {
            session.Store(ParkedCallback.For(message, callback.ServiceId, now + TimeSpan.FromMilliseconds(1000 + Random.Shared.Next(500))));
            return;
        }

        CallbackSender.Result result;
        try { result = await sender.SendAsync(toSend, secret, cancellation); }
        finally { inFlight.Leave(callback.ServiceId, callback.Id); }

        // An offer's own callbackUrl says nothing about the callback's URL: it neither counts toward nor resets its failures.
        var ownUrl = message.Url == callback.Url;
        if (result.Delivered)
        {
            session.Store(Record(message, now, result.StatusCode, DeliveryOutcomes.Delivered, null, result.DurationMs, null));
            // Unconditional (a concurrent failure may have counted since the load), but writes the row only when there is something to reset.
            if (ownUrl)
                session.QueueSqlCommand("""
                    UPDATE ns.mt_doc_callbackendpoint SET data = data || '{"consecutiveFailures":0,"failingSince":null}'::jsonb
                    WHERE id = ? AND (coalesce((data ->> 'consecutiveFailures')::int, 0) > 0 OR data ->> 'failingSince' IS NOT NULL)
                    """, callback.Id);
            return;
        }

        var retry = message.Attempt <= settings.RetryDelays.Count ? settings.RetryDelays[message.Attempt - 1] : (TimeSpan?)null;
        var nextAt = retry is { } delay ? now + delay : (DateTimeOffset?)null;
        session.Store(Record(message, now, result.StatusCode, retry is null ? DeliveryOutcomes.GaveUp : DeliveryOutcomes.Failed, result.Error, result.DurationMs, nextAt));
        if (ownUrl) CountFailure(session, callback.Id, now, settings, result.Error);
        if (nextAt is { } at) session.Store(ParkedCallback.For(message with { Attempt = message.Attempt + 1 }, callback.ServiceId, at));
    }

    /// <summary>Counted in SQL, so concurrent failures of one callback all count; the same statement disables it past the bound.</summary>
    private static void CountFailure(IDocumentSession session, Guid callbackId, DateTimeOffset now, CallbackSettings settings, string? error) =>
        session.QueueSqlCommand("""
            UPDATE ns.mt_doc_callbackendpoint SET data = data || jsonb_build_object(
                'consecutiveFailures', coalesce((data ->> 'consecutiveFailures')::int, 0) + 1,
                'failingSince', coalesce(nullif(data -> 'failingSince', 'null'::jsonb), to_jsonb(?::timestamptz)))
              || CASE WHEN (data ->> 'enabled')::boolean
                       AND (coalesce((data ->> 'consecutiveFailures')::int, 0) + 1 >= ? OR (data ->> 'failingSince')::timestamptz <= ?::timestamptz)
                  THEN jsonb_build_object('enabled', false, 'disabledAt', to_jsonb(?::timestamptz), 'disabledReason',
                      CASE WHEN coalesce((data ->> 'consecutiveFailures')::int, 0) + 1 >= ? THEN ?::text ELSE ?::text END)
                  ELSE '{}'::jsonb END
            WHERE id = ?
            """, now, settings.DisableAfterFailures, now - settings.DisableAfterFailing, now, settings.DisableAfterFailures,
            $"{settings.DisableAfterFailures} consecutive failed attempts; the last: {error}",
            $"Failing for more than {settings.DisableAfterFailing.TotalHours:0.###} h without a success; the last: {error}",
            callbackId);

    private static CallbackDelivery Record(DeliverCallback m, DateTimeOffset at, int? status, string outcome, string? error, long durationMs, DateTimeOffset? next) => new()
    {
        Id = Guid.CreateVersion7(), CallbackId = m.CallbackId, EventId = m.EventId, EventType = m.EventType, JobId = m.JobId, Url = m.Url,
        Attempt = m.Attempt, AttemptedAt = at, StatusCode = status, Outcome = outcome, Error = error, DurationMs = durationMs, NextAttemptAt = next,
    };

    /// <summary>To whole microseconds, as PostgreSQL keeps them, so the deliveries cursor compares equal to what is stored.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset t) => new(t.Ticks - t.Ticks % 10, t.Offset);
}
