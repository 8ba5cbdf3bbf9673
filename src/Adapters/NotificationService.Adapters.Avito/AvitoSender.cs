using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Avito;

public sealed record AvitoConfig(string ClientId, string ClientSecret, long UserId, string? ApiBaseUrl = null, bool AllowPrivateNetwork = false);

/// <summary>
/// Sends through Avito's Messenger API: a client-credentials token from <c>POST {apiBaseUrl}/token</c>, then
/// <c>POST {apiBaseUrl}/messenger/v1/accounts/{userId}/chats/{chatId}/messages</c> with it as the Bearer token. The token
/// belongs to the worker: its parallel sends share it, and it is fetched again shortly before it expires or once Avito
/// refuses it.
/// </summary>
public sealed class AvitoSender(AvitoConfig config, TimeProvider clock) : IChannelSender, IDisposable
{
    private readonly HttpClient _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, TimeSpan.FromSeconds(30));
    private readonly string _api = (config.ApiBaseUrl ?? "https://api.avito.ru").TrimEnd('/');
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private volatile Token? _token;

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        try
        {
            var token = await TokenAsync(refused: null, cancellation);
            // A cancel aborts the request only until it is fully sent; after that the provider's answer decides the outcome.
            using var abort = delivery.Progress.AbortUntilSent(cancellation);
            var response = await PostMessageAsync(delivery, token, abort.Token);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                // The token died before its time (revoked, or Avito's clock): one fresh token, one more try; a second 401 is final.
                response.Dispose();
                response = await PostMessageAsync(delivery, await TokenAsync(refused: token, cancellation), abort.Token);
            }
            using (response) return await HttpOutcomes.ClassifyAsync(response, MessageId);
        }
        catch (TokenRefused refused) { return refused.Outcome; }
        catch (Exception e) when (HttpOutcomes.Classify(e, cancellation) is { } result) { return result; }
    }

    private async Task<HttpResponseMessage> PostMessageAsync(ChannelDelivery delivery, string token, CancellationToken abort)
    {
        var chat = Uri.EscapeDataString(delivery.Params.GetProperty("chatId").GetString()!);
        var body = JsonSerializer.Serialize(new { message = new { text = delivery.Params.GetProperty("text").GetString() }, type = "text" });
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{_api}/messenger/v1/accounts/{config.UserId}/chats/{chat}/messages")
        {
            Content = delivery.Progress.Track(new StringContent(body, Encoding.UTF8, "application/json")),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await _http.SendAsync(request, abort);
    }

    /// <summary>
    /// The cached token while it is fresh; else one fetched under a lock, so parallel sends make one request. A send Avito
    /// refused names the token it used, and a new one is fetched only while that is still the cached one: N sends refused
    /// together cause one token request.
    /// </summary>
    private async Task<string> TokenAsync(string? refused, CancellationToken cancellation)
    {
        if (Usable(refused) is { } cached) return cached;
        await _fetching.WaitAsync(cancellation);
        try
        {
            if (Usable(refused) is { } fetchedMeanwhile) return fetchedMeanwhile;
            using var response = await _http.PostAsync($"{_api}/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["client_id"] = config.ClientId, ["client_secret"] = config.ClientSecret, ["grant_type"] = "client_credentials",
            }), cancellation);
            // 400/401 here mean bad client credentials: permanent. 408, 429 and 5xx stay transient, Retry-After included.
            if (!response.IsSuccessStatusCode)
                throw new TokenRefused(await HttpOutcomes.ClassifyAsync(response) is var outcome && outcome is DeliveryResult.Permanent p && (int)response.StatusCode is 400 or 401
                    ? p with { Error = $"Avito refused the client credentials: its token endpoint answered HTTP {(int)response.StatusCode}." }
                    : outcome);
            var answer = await response.Content.ReadAsStringAsync(cancellation);
            var fresh = Parse(answer) ?? throw new TokenRefused(new DeliveryResult.Permanent("Avito's token endpoint answered without an access token.", HttpOutcomes.Excerpt(answer)));
            _token = fresh;
            return fresh.Value;
        }
        finally
        {
            _fetching.Release();
        }
    }

    private string? Usable(string? refused) =>
        _token is { } token && token.Value != refused && token.RefreshAt > clock.GetUtcNow() ? token.Value : null;

    /// <summary>
    /// Replaced a tenth of its lifetime (at most 5 minutes) before Avito's expiry, so a send that starts with it is not
    /// refused on the way, and a small difference between Avito's clock and ours does not matter.
    /// </summary>
    private Token? Parse(string body)
    {
        try
        {
            var json = JsonDocument.Parse(body).RootElement;
            if (!json.TryGetProperty("access_token", out var value) || value.GetString() is not { Length: > 0 } token) return null;
            var lifetime = TimeSpan.FromSeconds(json.TryGetProperty("expires_in", out var seconds) ? seconds.GetDouble() : 0);
            return new Token(token, clock.GetUtcNow() + lifetime - TimeSpan.FromTicks(Math.Min(lifetime.Ticks / 10, TimeSpan.TicksPerMinute * 5)));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    private static string? MessageId(string body)
    {
        try { return JsonDocument.Parse(body).RootElement.TryGetProperty("id", out var id) ? id.GetString() : null; }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    private sealed record Token(string Value, DateTimeOffset RefreshAt);

    private sealed class TokenRefused(DeliveryResult outcome) : Exception("Avito gave no token.")
    {
        public DeliveryResult Outcome { get; } = outcome;
    }

    public void Dispose()
    {
        _http.Dispose();
        _fetching.Dispose();
    }
}
