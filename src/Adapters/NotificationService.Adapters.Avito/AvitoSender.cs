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
/// Avito's Messenger API: a client-credentials token from <c>POST {apiBaseUrl}/token</c>, shared by the worker's parallel
/// sends, then <c>POST {apiBaseUrl}/messenger/v1/accounts/{userId}/chats/{chatId}/messages</c> with it as the Bearer token.
/// </summary>
public sealed class AvitoSender(AvitoConfig config, TimeProvider clock) : IChannelSender, IDisposable
{
    private readonly HttpClient _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, TimeSpan.FromSeconds(30));
    private readonly string _api = (config.ApiBaseUrl ?? "https://api.avito.ru").TrimEnd('/');
    private readonly SharedToken _token = new(clock);

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        // A cancel aborts the send only until the message is fully sent, the wait for a token included (nothing has gone
        // out then); after that Avito's answer decides the outcome.
        using var abort = delivery.Progress.AbortUntilSent(cancellation);
        try
        {
            var token = await _token.GetAsync(FetchTokenAsync, abort.Token);
            var response = await PostMessageAsync(delivery, token, abort.Token);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                // The token died before its time: one fresh token, one more try (Avito took nothing); a second 401 is final.
                response.Dispose();
                var fresh = await _token.GetAsync(FetchTokenAsync, abort.Token, refused: token);
                response = await PostMessageAsync(delivery, fresh, abort.Token);
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

    private async Task<(string, TimeSpan)> FetchTokenAsync(CancellationToken cancellation)
    {
        using var response = await _http.PostAsync($"{_api}/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = config.ClientId, ["client_secret"] = config.ClientSecret, ["grant_type"] = "client_credentials",
        }), cancellation);
        // 400/401 mean bad client credentials: permanent. 408, 429 and 5xx stay transient, Retry-After included.
        if (!response.IsSuccessStatusCode)
        {
            var outcome = await HttpOutcomes.ClassifyAsync(response);
            throw new TokenRefused(outcome is DeliveryResult.Permanent p && (int)response.StatusCode is 400 or 401
                ? p with { Error = $"Avito refused the client credentials: its token endpoint answered HTTP {(int)response.StatusCode}." }
                : outcome);
        }
        var answer = await response.Content.ReadAsStringAsync(cancellation);
        // Not JSON at all (a proxy's page): Avito's answer never arrived, so try again later. JSON without a token: refused.
        if (Json(answer) is not { } json)
            throw new TokenRefused(new DeliveryResult.Transient("Avito's token endpoint answered HTTP 200 without JSON.", null, HttpOutcomes.Excerpt(answer)));
        if (!json.TryGetProperty("access_token", out var token) || token.ValueKind != JsonValueKind.String)
            throw new TokenRefused(new DeliveryResult.Permanent("Avito's token endpoint answered without an access token.", HttpOutcomes.Excerpt(answer)));
        return (token.GetString()!, Lifetime(json));
    }

    // Avito's tokens live a day (expires_in 86400). An answer without a usable expires_in keeps the token an hour: a 401
    // still replaces it sooner, and a lifetime of 0 would fetch a token for every send.
    private static TimeSpan Lifetime(JsonElement answer) =>
        answer.TryGetProperty("expires_in", out var s) && s.TryGetDouble(out var seconds) && seconds is > 0 and <= 30 * 86400
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromHours(1);

    private static string? MessageId(string body) =>
        Json(body) is { } json && json.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;

    private static JsonElement? Json(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException) { return null; }
    }

    private sealed class TokenRefused(DeliveryResult outcome) : Exception { public DeliveryResult Outcome { get; } = outcome; }

    public void Dispose() => _http.Dispose();
}
