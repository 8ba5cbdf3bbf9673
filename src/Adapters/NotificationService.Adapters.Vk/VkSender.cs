using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Vk;

public sealed record VkConfig(string AccessToken, string? ApiBaseUrl = null, string? ApiVersion = null, bool AllowPrivateNetwork = false);

/// <summary>
/// Sends through the VK API's <c>messages.send</c> as a community: a form POST to <c>{apiBaseUrl}/method/messages.send</c>
/// (the token in the body, not the URL, so it stays out of access logs), answered HTTP 200 with either
/// <c>{"response": &lt;message id&gt;}</c> or <c>{"error": {"error_code": N, "error_msg": "..."}}</c>.
/// </summary>
public sealed class VkSender(VkConfig config) : IChannelSender, IDisposable
{
    private readonly HttpClient _http = OutboundHttp.CreateClient(config.AllowPrivateNetwork, TimeSpan.FromSeconds(30));
    private readonly string _url = $"{(config.ApiBaseUrl ?? VkAdapterType.DefaultApiBaseUrl).TrimEnd('/')}/method/messages.send";

    /// <summary>
    /// VK's error codes and whether a later attempt may succeed. Every retry is safe: it carries the same random_id, so VK
    /// drops it if the earlier attempt got through after all. 6 is VK's per-second request limit, so the next second is
    /// free; 9 (flood control) and 10 (VK's own fault) say nothing of how long they last, so they wait the adapter's
    /// backoff, which grows with each attempt and which an admin can lengthen. 1 is "unknown error, try again later" in VK's
    /// own words. Any code not listed is permanent: the other codes are about the token, its rights or the request,
    /// which the same request cannot fix; the job names the code and the operator sees VK's error_msg.
    /// </summary>
    private static readonly Dictionary<int, (string Meaning, bool Transient)> Codes = new()
    {
        [1] = ("unknown error", true), [6] = ("too many requests per second", true), [9] = ("flood control", true),
        [10] = ("internal server error", true), [5] = ("authorization failed", false), [7] = ("permission denied", false),
        [15] = ("access denied", false), [100] = ("a parameter is missing or invalid", false),
        [901] = ("the user has not allowed messages from the community", false),
        [902] = ("the user's privacy settings forbid the message", false), [914] = ("the message is too long", false),
    };

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = delivery.Progress.Track(new FormUrlEncodedContent(Form(delivery))) };
        try
        {
            // A cancel aborts the request only until it is fully sent; after that VK's answer decides the outcome.
            using var abort = delivery.Progress.AbortUntilSent(cancellation);
            using var response = await _http.SendAsync(request, abort.Token);
            return response.IsSuccessStatusCode ? Classify(await response.Content.ReadAsStringAsync(CancellationToken.None)) : await HttpOutcomes.ClassifyAsync(response);
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
            ["random_id"] = RandomId(delivery.JobId).ToString(CultureInfo.InvariantCulture),
            ["message"] = p.GetProperty("message").GetString()!,
        };
        if (p.TryGetProperty("peerId", out var peer)) form["peer_id"] = peer.GetRawText();
        else form["domain"] = p.GetProperty("domain").GetString()!;
        if (p.TryGetProperty("attachment", out var attachment)) form["attachment"] = attachment.GetString()!;
        if (p.TryGetProperty("keyboard", out var keyboard)) form["keyboard"] = keyboard.GetRawText();
        if (p.TryGetProperty("disableMentions", out var mentions)) form["disable_mentions"] = mentions.GetBoolean() ? "1" : "0";
        return form;
    }

    /// <summary>
    /// The job's random_id: the same on every attempt and redelivery, so VK drops a resend of a message it already has.
    /// VK takes a signed int32 (0 turns the check off) and compares it with the dialog's messages of the last hour, at
    /// most its last 100; so a hash of the job id folded into 1..int.MaxValue. Two different jobs to one dialog share an
    /// id (and VK drops the later one as a resend) with odds of at most 100 in 2^31, about 5 in 100 million per message.
    /// </summary>
    public static int RandomId(Guid jobId) =>
        (int)(BinaryPrimitives.ReadUInt32LittleEndian(SHA256.HashData(jobId.ToByteArray())) % int.MaxValue) + 1;

    /// <summary>VK's HTTP 200 answer: a message id, or an error whose code decides (the table is <see cref="Codes"/>).</summary>
    public static DeliveryResult Classify(string body)
    {
        JsonElement root;
        try { root = JsonDocument.Parse(body).RootElement; }
        catch (JsonException) { root = default; }
        // We send one peer_id or domain, so the response is the message id (peer_ids would answer an array: kept whole).
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("response", out var id)) return new DeliveryResult.Delivered(id.GetRawText());
        // Not VK's shape (a proxy's page, a cut-off body): VK may or may not have sent it, and a retry is safe either way.
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error) || !error.TryGetProperty("error_code", out var c) || !c.TryGetInt32(out var code))
            return new DeliveryResult.Transient("VK answered HTTP 200 without a response or an error code.", null, HttpOutcomes.Excerpt(body));
        var detail = HttpOutcomes.Excerpt(error.TryGetProperty("error_msg", out var message) ? message.GetString() : body);
        var known = Codes.TryGetValue(code, out var entry);
        var reason = known ? $"VK answered error {code}: {entry.Meaning}." : $"VK answered error {code}.";
        if (!known || !entry.Transient) return new DeliveryResult.Permanent(reason, detail);
        return new DeliveryResult.Transient(reason, code == 6 ? TimeSpan.FromSeconds(1) : null, detail);
    }

    public void Dispose() => _http.Dispose();
}
