using System.Text.Json;
using NotificationService.Adapters.Avito;
using NotificationService.Contracts;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Channels;

/// <summary>The Avito sender against a local server that speaks Avito's token endpoint and Messenger API.</summary>
public sealed class AvitoSenderTests : IAsyncLifetime
{
    private const long UserId = 94235311;
    private readonly ManualClock _clock = new();
    private AvitoApi _avito = null!;
    private AvitoSender _sender = null!;

    public async Task InitializeAsync()
    {
        _avito = await AvitoApi.StartAsync();
        _sender = new AvitoSender(new AvitoConfig("client-1", "secret-1", UserId, _avito.BaseUrl, AllowPrivateNetwork: true), _clock);
    }

    public async Task DisposeAsync()
    {
        _sender.Dispose();
        await _avito.DisposeAsync();
    }

    private Task<DeliveryResult> SendAsync(string chatId = "u2i-abc", string text = "Your order is ready") =>
        _sender.SendAsync(Deliveries.Of(new { chatId, text }), default);

    [Fact]
    public async Task a_message_is_json_with_a_client_credentials_bearer_token_to_the_accounts_chat_messages_resource()
    {
        var result = await SendAsync(chatId: "u2i-N0yD/../x", text: "Заказ готов");

        Assert.Equal("msg-1", Assert.IsType<DeliveryResult.Delivered>(result).ProviderMessageId);
        var form = System.Web.HttpUtility.ParseQueryString(Assert.Single(_avito.TokenRequests).Body);
        Assert.Equal(("client-1", "secret-1", "client_credentials"), (form["client_id"], form["client_secret"], form["grant_type"]));
        var (send, _) = Assert.Single(_avito.Sends);
        Assert.Equal($"/messenger/v1/accounts/{UserId}/chats/u2i-N0yD%2F..%2Fx/messages", send.Path); // the chat id cannot leave its path segment
        Assert.Equal("Bearer token-1", send.Headers["Authorization"]);
        Assert.StartsWith("application/json", send.Headers["Content-Type"]);
        var body = JsonDocument.Parse(send.Body).RootElement;
        Assert.Equal("text", body.GetProperty("type").GetString());
        Assert.Equal("Заказ готов", body.GetProperty("message").GetProperty("text").GetString());
    }

    [Fact]
    public async Task one_token_serves_many_sends_parallel_and_sequential()
    {
        var parallel = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => SendAsync(text: $"parallel {i}")));
        for (var i = 0; i < 3; i++) Assert.IsType<DeliveryResult.Delivered>(await SendAsync(text: $"later {i}"));

        Assert.All(parallel, r => Assert.IsType<DeliveryResult.Delivered>(r));
        Assert.Single(_avito.TokenRequests);
        Assert.All(_avito.Sends, s => Assert.Equal("Bearer token-1", s.Request.Headers["Authorization"]));
    }

    [Fact]
    public async Task a_token_near_its_expiry_is_replaced_before_it_is_used()
    {
        _avito.ExpiresIn = 3600; // replaced 5 minutes before its end
        await SendAsync();

        _clock.Advance(TimeSpan.FromSeconds(3600 - 301));
        await SendAsync();
        Assert.Single(_avito.TokenRequests);

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.IsType<DeliveryResult.Delivered>(await SendAsync());
        Assert.Equal(2, _avito.TokenRequests.Count);
        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], _avito.Sends.Select(s => s.Request.Headers["Authorization"]));
        Assert.All(_avito.Sends, s => Assert.Equal(200, s.Status)); // replaced before Avito refused it, not after
    }

    [Fact]
    public async Task parallel_sends_refused_with_an_expired_token_fetch_one_new_token_and_each_retries_once()
    {
        await SendAsync();
        _avito.Expire("token-1");
        var together = _avito.HoldSendsTogether(4, TimeSpan.FromSeconds(10));

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => SendAsync(text: $"parallel {i}")));

        await together; // all four were in flight with token-1 at once
        Assert.All(results, r => Assert.IsType<DeliveryResult.Delivered>(r));
        Assert.Equal(2, _avito.TokenRequests.Count);
        var sends = _avito.Sends.Skip(1).ToList();
        Assert.Equal(4, sends.Count(s => s.Status == 401 && s.Request.Headers["Authorization"] == "Bearer token-1"));
        Assert.Equal(4, sends.Count(s => s.Status == 200 && s.Request.Headers["Authorization"] == "Bearer token-2"));
    }

    [Fact]
    public async Task a_second_401_after_a_fresh_token_is_permanent()
    {
        _avito.Peer.BeforeReply = (request, _) =>
        {
            if (request.Path != "/token") _avito.Expire(request.Headers["Authorization"]["Bearer ".Length..]); // Avito refuses every token
            return Task.CompletedTask;
        };

        var result = Assert.IsType<DeliveryResult.Permanent>(await SendAsync());

        Assert.Equal("The provider answered HTTP 401 Unauthorized.", result.Error);
        Assert.Equal(2, _avito.TokenRequests.Count);
        Assert.Equal([401, 401], _avito.Sends.Select(s => s.Status));
    }

    [Theory]
    [InlineData(400, """{"error":"invalid_client","error_description":"invalid client id or secret"}""")]
    [InlineData(401, """{"error":{"code":401,"message":"Unauthorized"}}""")]
    public async Task bad_client_credentials_are_permanent_and_no_message_is_sent(int status, string body)
    {
        _avito.TokenReply = new PeerReply(status, body);

        var result = Assert.IsType<DeliveryResult.Permanent>(await SendAsync());

        Assert.Equal($"Avito refused the client credentials: its token endpoint answered HTTP {status}.", result.Error);
        Assert.Equal(body, result.Detail);
        Assert.Empty(_avito.Sends);
    }

    [Fact]
    public async Task token_endpoint_trouble_is_transient_and_a_token_answer_without_a_token_is_permanent()
    {
        _avito.TokenReply = new PeerReply(503, """{"error":{"code":503,"message":"Service temporarily unavailable"}}""");
        Assert.IsType<DeliveryResult.Transient>(await SendAsync());

        _avito.TokenReply = new PeerReply(429, "{}", new Dictionary<string, string> { ["Retry-After"] = "5" });
        Assert.Equal(TimeSpan.FromSeconds(5), Assert.IsType<DeliveryResult.Transient>(await SendAsync()).RetryAfter);

        _avito.TokenReply = new PeerReply(200, """{"token_type":"Bearer"}""");
        Assert.Equal("Avito's token endpoint answered without an access token.", Assert.IsType<DeliveryResult.Permanent>(await SendAsync()).Error);

        _avito.TokenReply = null; // recovered: the next send fetches a token and goes out
        Assert.IsType<DeliveryResult.Delivered>(await SendAsync());
        Assert.Single(_avito.Sends);
    }

    [Fact]
    public async Task throttling_and_server_errors_are_transient_other_refusals_permanent()
    {
        _avito.ReplyToNextSendWith(new PeerReply(429, """{"error":{"code":429,"message":"Too Many Requests"}}""", new Dictionary<string, string> { ["Retry-After"] = "7" }));
        Assert.Equal(TimeSpan.FromSeconds(7), Assert.IsType<DeliveryResult.Transient>(await SendAsync()).RetryAfter);

        _avito.ReplyToNextSendWith(new PeerReply(500, """{"error":{"code":500,"message":"Error while processing request"}}"""));
        Assert.IsType<DeliveryResult.Transient>(await SendAsync());

        foreach (var status in new[] { 400, 403, 404 })
        {
            _avito.ReplyToNextSendWith(new PeerReply(status, $"{{\"error\":{{\"code\":{status},\"message\":\"refused\"}}}}"));
            var refused = Assert.IsType<DeliveryResult.Permanent>(await SendAsync());
            Assert.StartsWith($"The provider answered HTTP {status} ", refused.Error);
            Assert.Contains("refused", refused.Detail);
        }
        Assert.Single(_avito.TokenRequests); // none of these answers is about the token
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }
    [Fact]
    public async Task a_cancel_while_the_token_is_fetched_ends_the_attempt_as_not_delivered()
    {
        var tokenAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _avito.Peer.BeforeReply = async (request, cancellation) =>
        {
            if (request.Path != "/token") return;
            tokenAsked.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellation);
        };
        var delivery = Deliveries.Of(new { chatId = "u2i-abc", text = "x" });
        using var cancel = new CancellationTokenSource();
        var send = _sender.SendAsync(delivery, cancel.Token);
        await tokenAsked.Task.WaitAsync(TimeSpan.FromSeconds(10));

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(delivery.Progress.PossiblyDelivered); // nothing reached Avito: the job's cancel must not say it may have
        Assert.Empty(_avito.Sends);
    }

    [Fact]
    public async Task a_token_answer_without_expires_in_is_kept_rather_than_fetched_for_every_send()
    {
        _avito.Peer.Reply = request => request.Path == "/token"
            ? new PeerReply(200, """{"access_token":"token-1","token_type":"Bearer"}""")
            : new PeerReply(200, """{"id":"m"}""");

        for (var i = 0; i < 3; i++) Assert.IsType<DeliveryResult.Delivered>(await SendAsync(text: $"n{i}"));

        Assert.Single(_avito.TokenRequests);
    }

    [Fact]
    public async Task a_token_endpoint_answering_200_without_json_is_transient()
    {
        _avito.TokenReply = new PeerReply(200, "<html>maintenance</html>");

        var result = Assert.IsType<DeliveryResult.Transient>(await SendAsync());

        Assert.Equal("Avito's token endpoint answered HTTP 200 without JSON.", result.Error);
    }
}
