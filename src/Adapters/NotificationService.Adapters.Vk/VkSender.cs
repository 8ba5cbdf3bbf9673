using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Vk;

public sealed record VkConfig(string AccessToken, string? ApiBaseUrl = null, string? ApiVersion = null, bool AllowPrivateNetwork = false);

/// <summary>VK's <c>messages.send</c> as a community: a form POST (the token in the body, out of access logs), answered HTTP 200.</summary>
public sealed class VkSender(VkConfig config) : IChannelSender, IDisposable
{
    private readonly HttpClient _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, TimeSpan.FromSeconds(30));
    private readonly string _url = $"{(config.ApiBaseUrl ?? VkAdapterType.DefaultApiBaseUrl).TrimEnd('/')}/method/messages.send";

    // VK's error codes: what they mean, and whether a later attempt may succeed (retries are safe: they carry the same
    // random_id). None says how long to wait, so the transient ones take the adapter's jittered, growing backoff: a
    // burst over the per-second limit (6) retried all after one fixed second would hit the limit again together. The
    // other codes concern the token, its rights or the request: permanent, with VK's error_msg as the detail.
    private static readonly Dictionary<int, (string Meaning, bool Transient)> Codes = new()
    {
        [1] = ("unknown error", true), [6] = ("too many requests per second", true), [9] = ("flood control", true),
        [10] = ("internal server error", true), [29] = ("rate limit reached", true),
        [5] = ("authorization failed", false), [7] = ("permission denied", false), [15] = ("access denied", false),
        [100] = ("a parameter is missing or invalid", false), [914] = ("the message is too long", false),
        [901] = ("the user has not allowed messages from the community", false),
        [902] = ("the user's privacy settings forbid the message", false),
    };

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _url)
        {
            Content = delivery.Progress.Track(new FormUrlEncodedContent(Form(delivery))),
        };
        try
        {
            // A cancel aborts the request only until it is fully sent; after that VK's answer decides the outcome.
            using var abort = delivery.Progress.AbortUntilSent(cancellation);
            using var response = await _http.SendAsync(request, abort.Token);
            if (!response.IsSuccessStatusCode) return await HttpOutcomes.ClassifyAsync(response);
            return Classify(await response.Content.ReadAsStringAsync(CancellationToken.None));
        }
        catch (Exception e) when (HttpOutcomes.Classify(e, cancellation) is { } result)
        {
            return result;
        }
    }

    private Dictionary<string, string> Form(ChannelDelivery delivery)
    {
        var p = delivery.Params;
        var form = new Dictionary<string, string>
        {
            ["access_token"] = config.AccessToken,
            ["v"] = config.ApiVersion ?? VkAdapterType.DefaultApiVersion,
            ["random_id"] = RandomId(delivery.JobId).ToString(),
            ["message"] = p.GetProperty("message").GetString()!,
        };
        if (p.TryGetProperty("peerId", out var peer)) form["peer_id"] = peer.GetRawText();
        else form["domain"] = p.GetProperty("domain").GetString()!;
        if (p.TryGetProperty("attachment", out var attachment)) form["attachment"] = attachment.GetString()!;
        if (p.TryGetProperty("keyboard", out var keyboard)) form["keyboard"] = keyboard.GetRawText();
        if (p.TryGetProperty("disableMentions", out var mentions)) form["disable_mentions"] = mentions.GetBoolean() ? "1" : "0";
        return form;
    }

    // The job's random_id, the same on every attempt and redelivery, so VK drops a resend. VK takes an int32 (0 turns the
    // check off) and compares it with the dialog's last hour (at most 100 messages): two jobs to one dialog collide (the
    // later one dropped) with odds of at most 100 in 2^31, about 5 in 100 million per message.
    public static int RandomId(Guid jobId) =>
        (int)(BinaryPrimitives.ReadUInt32LittleEndian(SHA256.HashData(jobId.ToByteArray())) % int.MaxValue) + 1;

    /// <summary>VK's HTTP 200 answer: <c>{"response": &lt;message id&gt;}</c> (an array for peer_ids: kept whole) or <c>{"error": {"error_code": N, ...}}</c>.</summary>
    public static DeliveryResult Classify(string body)
    {
        using var document = Parse(body);
        var root = document?.RootElement ?? default;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("response", out var id))
            return new DeliveryResult.Delivered(id.GetRawText());
        // Not VK's shape (a proxy's page, a cut-off body): VK may or may not have sent it, and a retry is safe either way.
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error)
            || !error.TryGetProperty("error_code", out var c) || !c.TryGetInt32(out var code))
            return new DeliveryResult.Transient("VK answered HTTP 200 without a response or an error code.", null, HttpOutcomes.Excerpt(body));

        var detail = HttpOutcomes.Excerpt(error.TryGetProperty("error_msg", out var message) ? message.GetString() : body);
        if (!Codes.TryGetValue(code, out var known)) return new DeliveryResult.Permanent($"VK answered error {code}.", detail);
        var reason = $"VK answered error {code}: {known.Meaning}.";
        return known.Transient ? new DeliveryResult.Transient(reason, null, detail) : new DeliveryResult.Permanent(reason, detail);
    }

    private static JsonDocument? Parse(string body)
    {
        try { return JsonDocument.Parse(body); }
        catch (JsonException) { return null; }
    }

    public void Dispose() => _http.Dispose();
}
