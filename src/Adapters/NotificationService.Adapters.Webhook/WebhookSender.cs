using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Webhook;

public sealed record WebhookConfig(string Url, string Secret, double TimeoutSeconds = 10, bool AllowPrivateNetwork = false);

/// <summary>POSTs the job's payload as JSON, signed with HMAC-SHA256 over "&lt;unix seconds&gt;.&lt;body&gt;".</summary>
public sealed class WebhookSender(WebhookConfig config, TimeProvider clock) : IChannelSender, IDisposable
{
    // One pooled client for the worker's lifetime; the per-send timeout is the adapter's own (below).
    private readonly HttpClient _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, Timeout.InfiniteTimeSpan);

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        var body = delivery.Params.GetProperty("payload").GetRawText();
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, config.Url)
        {
            Content = delivery.Progress.Track(new StringContent(body, Encoding.UTF8, "application/json")),
        };
        request.Headers.Add(WebhookAdapterType.SignatureHeader, $"t={timestamp},v1={Sign(config.Secret, timestamp, body)}");
        request.Headers.Add(WebhookAdapterType.JobHeader, delivery.JobId.ToString());
        request.Headers.Add(WebhookAdapterType.DeliveryHeader, $"{delivery.JobId}.{delivery.Attempt}");
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("NotificationService", "1.0"));

        // A cancel aborts the request only until it is fully sent; after that the provider's answer decides the outcome.
        using var abort = delivery.Progress.AbortUntilSent(cancellation);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abort.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(config.TimeoutSeconds));
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token);
            return await HttpOutcomes.ClassifyAsync(response);
        }
        catch (Exception e) when (HttpOutcomes.Classify(e, cancellation) is { } result)
        {
            return result;
        }
    }

    /// <summary>What a receiver computes to check a delivery: hex HMAC-SHA256 of "&lt;t&gt;.&lt;body&gt;" with the shared secret.</summary>
    public static string Sign(string secret, long timestamp, string body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));

    public void Dispose() => _http.Dispose();
}
