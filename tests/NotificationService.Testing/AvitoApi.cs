using System.Collections.Concurrent;
using System.Text.Json;

namespace NotificationService.Testing;

/// <summary>
/// A local server that speaks Avito's Messenger API shape: <c>POST /token</c> issues client-credentials tokens
/// (<c>token-1</c>, <c>token-2</c>, ...), and <c>POST /messenger/v1/accounts/{userId}/chats/{chatId}/messages</c> takes a
/// message from a Bearer token that was issued and not expired (401 with Avito's error body otherwise).
/// </summary>
public sealed class AvitoApi : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, bool> _expired = new();
    private readonly ConcurrentQueue<PeerReply> _sendReplies = new();
    private int _issued;
    private int _sent;

    public HttpPeer Peer { get; }
    public string BaseUrl => Peer.BaseUrl;
    /// <summary>The lifetime each issued token announces.</summary>
    public int ExpiresIn { get; set; } = 86400;
    /// <summary>When set, the token endpoint answers this instead of a token (bad credentials, an outage).</summary>
    public PeerReply? TokenReply { get; set; }
    /// <summary>Every message request with the status it was answered with, in the order they were answered.</summary>
    public ConcurrentQueue<(RecordedRequest Request, int Status)> Sends { get; } = new();

    public IReadOnlyList<RecordedRequest> TokenRequests => Peer.Requests.Where(r => r.Path == "/token").ToList();

    private AvitoApi(HttpPeer peer)
    {
        Peer = peer;
        peer.Reply = request => request.Path == "/token" ? Token() : Send(request);
    }

    public static async Task<AvitoApi> StartAsync() => new(await HttpPeer.StartAsync());

    /// <summary>From now on Avito refuses this token with 401, as it does once a token has expired.</summary>
    public void Expire(string token) => _expired[token] = true;

    /// <summary>The next message request is answered with this (a 429, a 500) whatever its token.</summary>
    public void ReplyToNextSendWith(PeerReply reply) => _sendReplies.Enqueue(reply);

    /// <summary>
    /// Holds each message request until <paramref name="count"/> of them are held at once (or <paramref name="timeout"/>
    /// passed), so they are all in flight together; requests after that pass. The task completes when they were released
    /// together, and faults on the timeout.
    /// </summary>
    public Task HoldSendsTogether(int count, TimeSpan timeout)
    {
        var together = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = 0;
        Peer.BeforeReply = async (request, cancellation) =>
        {
            if (request.Path == "/token" || together.Task.IsCompleted) return;
            if (Interlocked.Increment(ref held) >= count) together.TrySetResult();
            try { await together.Task.WaitAsync(timeout, cancellation); }
            catch (TimeoutException e) { together.TrySetException(e); }
        };
        return together.Task;
    }

    private PeerReply Token()
    {
        if (TokenReply is { } refusal) return refusal;
        var token = $"token-{Interlocked.Increment(ref _issued)}";
        return new PeerReply(200, JsonSerializer.Serialize(new { access_token = token, expires_in = ExpiresIn, token_type = "Bearer" }));
    }

    private PeerReply Send(RecordedRequest request)
    {
        var token = request.Headers.TryGetValue("Authorization", out var header) && header.StartsWith("Bearer ") ? header["Bearer ".Length..] : "";
        var reply = !IsLive(token) ? new PeerReply(401, """{"error":{"code":401,"message":"Unauthorized"}}""")
            : _sendReplies.TryDequeue(out var scripted) ? scripted
            : new PeerReply(200, JsonSerializer.Serialize(new
            {
                content = new { text = JsonDocument.Parse(request.Body).RootElement.GetProperty("message").GetProperty("text").GetString() },
                created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), direction = "out", id = $"msg-{Interlocked.Increment(ref _sent)}", type = "text",
            }));
        Sends.Enqueue((request, reply.Status));
        return reply;
    }

    private bool IsLive(string token) =>
        token.StartsWith("token-") && int.TryParse(token["token-".Length..], out var n) && n >= 1 && n <= Volatile.Read(ref _issued) && !_expired.ContainsKey(token);

    public ValueTask DisposeAsync() => Peer.DisposeAsync();
}
