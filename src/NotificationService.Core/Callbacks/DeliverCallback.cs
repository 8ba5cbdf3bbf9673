using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Marten;
using System.Security.Cryptography;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;
using Wolverine;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// One event for one callback, as stored in the durable <c>callbacks</c> queue. <see cref="Body"/> is made once, when the
/// event is dispatched, so every attempt sends the same bytes; <see cref="Attempt"/> counts from 1.
/// </summary>
public sealed record DeliverCallback(Guid CallbackId, Guid EventId, string EventType, Guid JobId, string Url, string Body, int Attempt);

public static class DeliverCallbackHandler
{
    public static Task<CallbackEndpoint?> LoadAsync(DeliverCallback message, IQuerySession session) => session.LoadAsync<CallbackEndpoint>(message.CallbackId);

    /// <summary>
    /// Posts the event and records the attempt. A failure is retried later as a scheduled message (never by holding the
    /// thread), counted against the callback, and disables it past the bound. A deleted callback gets nothing more; a
    /// disabled one records the delivery as skipped. Over the callback's in-flight cap the message waits a moment.
    /// </summary>
    public static async Task<OutgoingMessages> HandleAsync(
        DeliverCallback message, CallbackEndpoint? callback, IDocumentSession session, CallbackSender sender, CallbackSecrets secrets,
        CallbackInFlight inFlight, CallbackSettings settings, TimeProvider clock, CancellationToken cancellation)
    {
        var messages = new OutgoingMessages();
        if (callback is null) return messages; // deleted: its pending deliveries end here
        var now = Truncate(clock.GetUtcNow());
        if (!callback.Enabled)
        {
            session.Store(Record(message, now, null, DeliveryOutcomes.Skipped, $"The callback is disabled: {callback.DisabledReason}", 0, null));
            return messages;
        }
        if (!await inFlight.TryEnterAsync(callback.Id, settings.MaxInFlightPerCallback, cancellation))
        {
            messages.Add(message.DelayedFor(TimeSpan.FromMilliseconds(500 + Random.Shared.Next(500))));
            return messages;
        }

        CallbackSender.Result result;
        try { result = await sender.SendAsync(message, secrets.Unprotect(callback.ProtectedSecret), cancellation); }
        finally { inFlight.Leave(callback.Id); }

        if (result.Delivered)
        {
            session.Store(Record(message, now, result.StatusCode, DeliveryOutcomes.Delivered, null, result.DurationMs, null));
            // Only after failures: a healthy callback costs no write to its document.
            if (callback.ConsecutiveFailures > 0)
                session.QueueSqlCommand("""
                    UPDATE ns.mt_doc_callbackendpoint SET data = data || '{"consecutiveFailures":0,"failingSince":null}'::jsonb WHERE id = ?
                    """, callback.Id);
            return messages;
        }

        var retry = message.Attempt <= settings.RetryDelays.Count ? settings.RetryDelays[message.Attempt - 1] : (TimeSpan?)null;
        var nextAt = retry is { } delay ? now + delay : (DateTimeOffset?)null;
        session.Store(Record(message, now, result.StatusCode, retry is null ? DeliveryOutcomes.GaveUp : DeliveryOutcomes.Failed, result.Error, result.DurationMs, nextAt));
        // Counted in SQL, so concurrent failures of one callback all count; the same statement disables it past the bound.
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
            $"{settings.DisableAfterFailures} consecutive failed attempts; the last: {result.Error}",
            $"Failing for more than {settings.DisableAfterFailing.TotalHours:0.###} h without a success; the last: {result.Error}",
            callback.Id);
        if (retry is { } wait) messages.Add((message with { Attempt = message.Attempt + 1 }).DelayedFor(wait));
        return messages;
    }

    private static CallbackDelivery Record(DeliverCallback m, DateTimeOffset at, int? status, string outcome, string? error, long durationMs, DateTimeOffset? next) => new()
    {
        Id = Guid.CreateVersion7(), CallbackId = m.CallbackId, EventId = m.EventId, EventType = m.EventType, JobId = m.JobId, Url = m.Url,
        Attempt = m.Attempt, AttemptedAt = at, StatusCode = status, Outcome = outcome, Error = error, DurationMs = durationMs, NextAttemptAt = next,
    };

    /// <summary>To whole microseconds, as PostgreSQL keeps them, so the deliveries cursor compares equal to what is stored.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset t) => new(t.Ticks - t.Ticks % 10, t.Offset);
}

/// <summary>
/// Deliveries in flight per callback in this core, so one slow receiver cannot take all of the queue's slots. A delivery
/// over the cap waits briefly for a slot (a fast receiver frees one within milliseconds, so its deliveries are not
/// bounced); past that it goes back as a scheduled message, so a hanging receiver holds at most the cap plus short waits.
/// </summary>
public sealed class CallbackInFlight
{
    public static readonly TimeSpan SlotWait = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _slots = new();

    public Task<bool> TryEnterAsync(Guid callbackId, int cap, CancellationToken cancellation) =>
        _slots.GetOrAdd(callbackId, _ => new SemaphoreSlim(cap, cap)).WaitAsync(SlotWait, cancellation);

    public void Leave(Guid callbackId)
    {
        if (_slots.TryGetValue(callbackId, out var slots)) slots.Release();
    }
}

/// <summary>
/// POSTs a callback body under the webhook adapter's outbound rules (<see cref="OutboundHttp"/>: no redirects, http/https
/// only, private addresses refused unless <c>Callbacks:AllowPrivateNetwork</c>, response capped) and signs it the same way.
/// </summary>
public sealed class CallbackSender(CallbackSettings settings, TimeProvider clock) : IDisposable
{
    public const string EventIdHeader = "X-NS-Event-Id";

    private readonly HttpClient _http = OutboundHttp.CreateClient(settings.AllowPrivateNetwork, settings.Timeout);

    public sealed record Result(bool Delivered, int? StatusCode, string? Error, long DurationMs);

    public async Task<Result> SendAsync(DeliverCallback message, string secret, CancellationToken cancellation)
    {
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, message.Url) { Content = new StringContent(message.Body, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookAdapterType.SignatureHeader, $"t={timestamp},v1={Sign(secret, timestamp, message.Body)}");
        request.Headers.Add(EventIdHeader, message.EventId.ToString());
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("NotificationService", "1.0"));
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            var status = (int)response.StatusCode;
            return new Result(status is >= 200 and < 300, status, status is >= 200 and < 300 ? null : $"HTTP {status}", watch.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OutboundRequestRefusedException && !cancellation.IsCancellationRequested)
        {
            var error = e switch
            {
                TaskCanceledException => $"No answer within {settings.Timeout.TotalSeconds:0.###} s.",
                OutboundRequestRefusedException refused => refused.Message,
                HttpRequestException { InnerException: OutboundRequestRefusedException refused } => refused.Message,
                _ => e.Message,
            };
            return new Result(false, null, error, watch.ElapsedMilliseconds);
        }
    }

    /// <summary>Exactly as the webhook adapter signs (WebhookSender.Sign): hex HMAC-SHA256 of "&lt;t&gt;.&lt;body&gt;" with the secret.</summary>
    public static string Sign(string secret, long timestamp, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));

    public void Dispose() => _http.Dispose();
}
