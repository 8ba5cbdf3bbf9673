using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// POSTs a callback body under the webhook adapter's outbound rules (<see cref="OutboundHttp"/>: no redirects, http/https
/// only, private addresses refused unless <c>Callbacks:AllowPrivateNetwork</c>, response capped) and signs it the same way.
/// </summary>
public sealed class CallbackSender(CallbackSettings settings, TimeProvider clock, ILogger<CallbackSender> logger) : IDisposable
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
            // The URL is the tenant's and the error is shown to the tenant: the exception's own words (which name the
            // addresses a host resolved to, internal ones included) stay in the server's log.
            logger.LogDebug(e, "Callback {CallbackId} to {Url} failed", message.CallbackId, message.Url);
            return new Result(false, null, Classify(e, settings.Timeout), watch.ElapsedMilliseconds);
        }
    }

    /// <summary>A reason safe to show the tenant: what kind of failure, never an address or the runtime's message.</summary>
    public static string Classify(Exception e, TimeSpan timeout) => e switch
    {
        TaskCanceledException => $"No answer within {timeout.TotalSeconds:0.###} s.",
        OutboundRequestRefusedException or HttpRequestException { InnerException: OutboundRequestRefusedException } =>
            (e as OutboundRequestRefusedException ?? (OutboundRequestRefusedException)e.InnerException!).Message.StartsWith("HTTP ", StringComparison.Ordinal)
                ? "The receiver answered with a redirect, which is not followed."
                : "The URL's host is a private, loopback or link-local address, which is refused.",
        HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => "DNS lookup failed.",
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => "Connection refused or unreachable.",
        HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } => "TLS failed.",
        HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse } =>
            "The receiver's answer was not valid HTTP.",
        _ => "The request failed.",
    };

    /// <summary>Exactly as the webhook adapter signs (WebhookSender.Sign): hex HMAC-SHA256 of "&lt;t&gt;.&lt;body&gt;" with the secret.</summary>
    public static string Sign(string secret, long timestamp, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));

    public void Dispose() => _http.Dispose();
}
