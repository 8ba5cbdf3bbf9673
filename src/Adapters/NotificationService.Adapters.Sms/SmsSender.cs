using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Sms;

public sealed record SmsConfig(string BaseUrl, string AccountSid, string AuthToken, string From, bool AllowPrivateNetwork = false);

/// <summary>
/// Sends through the Twilio Messages REST shape: a form POST to
/// <c>{baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json</c> with basic auth, answered by a message resource.
/// </summary>
public sealed class SmsSender(SmsConfig config) : IChannelSender, IDisposable
{
    private readonly HttpClient _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, TimeSpan.FromSeconds(30));

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        var url = $"{config.BaseUrl.TrimEnd('/')}/2010-04-01/Accounts/{Uri.EscapeDataString(config.AccountSid)}/Messages.json";
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = delivery.Progress.Track(new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["To"] = delivery.Params.GetProperty("to").GetString()!,
                ["From"] = config.From,
                ["Body"] = delivery.Params.GetProperty("text").GetString()!,
            })),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{config.AccountSid}:{config.AuthToken}")));
        try
        {
            // A cancel aborts the request only until it is fully sent; after that the provider's answer decides the outcome.
            using var abort = delivery.Progress.AbortUntilSent(cancellation);
            using var response = await _http.SendAsync(request, abort.Token);
            return await HttpOutcomes.ClassifyAsync(response, MessageSid);
        }
        catch (Exception e) when (HttpOutcomes.Classify(e, cancellation) is { } result)
        {
            return result;
        }
    }

    private static string? MessageSid(string body)
    {
        try { return JsonDocument.Parse(body).RootElement.TryGetProperty("sid", out var sid) ? sid.GetString() : null; }
        catch (JsonException) { return null; }
    }

    public void Dispose() => _http.Dispose();
}
