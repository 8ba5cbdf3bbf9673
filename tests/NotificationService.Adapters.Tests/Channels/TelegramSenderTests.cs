using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Adapters.Telegram;
using NotificationService.Contracts;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Channels;

/// <summary>The real Telegram.Bot client against a local server that speaks the Bot API.</summary>
public sealed class TelegramSenderTests : IAsyncLifetime
{
    private const string Token = "123456:test-token-abcdef";
    private HttpPeer _botApi = null!;
    private TelegramSender _sender = null!;

    public async Task InitializeAsync()
    {
        _botApi = await HttpPeer.StartAsync();
        _sender = new TelegramSender(new TelegramConfig(Token, _botApi.BaseUrl, AllowPrivateNetwork: true));
    }

    public async Task DisposeAsync()
    {
        _sender.Dispose();
        await _botApi.DisposeAsync();
    }

    [Fact]
    public async Task a_message_is_sent_with_its_chat_text_and_options()
    {
        _botApi.ReplyNextWith(new PeerReply(200, """{"ok":true,"result":{"message_id":7,"date":0,"chat":{"id":42,"type":"private"},"text":"hi"}}"""));

        var result = await _sender.SendAsync(Deliveries.Of(new { chatId = 42, text = "Disk <b>full</b>", parseMode = "HTML", disableNotification = true }), default);

        Assert.Equal("42/7", Assert.IsType<DeliveryResult.Delivered>(result).ProviderMessageId);
        var request = Assert.Single(_botApi.Requests);
        Assert.Equal($"/bot{Token}/sendMessage", request.Path);
        var body = JsonDocument.Parse(request.Body).RootElement;
        Assert.Equal(42, body.GetProperty("chat_id").GetInt64());
        Assert.Equal("Disk <b>full</b>", body.GetProperty("text").GetString());
        Assert.Equal("html", body.GetProperty("parse_mode").GetString(), ignoreCase: true); // Telegram reads it case-insensitively
        Assert.True(body.GetProperty("disable_notification").GetBoolean());
    }

    [Fact]
    public async Task flood_control_is_transient_and_carries_telegrams_retry_after()
    {
        _botApi.ReplyNextWith(new PeerReply(429, """{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"""));

        var result = Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { chatId = "@alerts_channel", text = "x" }), default));
        Assert.Equal(TimeSpan.FromSeconds(7), result.RetryAfter);
        Assert.Single(_botApi.Requests); // no retry inside the send: the job's next attempt waits instead
    }

    [Fact]
    public async Task chat_not_found_is_permanent()
    {
        _botApi.ReplyNextWith(new PeerReply(400, """{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"""));

        var result = Assert.IsType<DeliveryResult.Permanent>(await _sender.SendAsync(Deliveries.Of(new { chatId = 1, text = "x" }), default));
        Assert.Equal("Telegram answered 400 Bad Request.", result.Error);
        Assert.Contains("chat not found", result.Detail); // Telegram's own words are for the operator
    }

    [Fact]
    public async Task a_redirect_is_not_followed_through_the_telegram_client()
    {
        await using var elsewhere = await HttpPeer.StartAsync();
        _botApi.ReplyNextWith(new PeerReply(307, "", new Dictionary<string, string> { ["Location"] = elsewhere.BaseUrl + "/steal" }));

        var result = Assert.IsType<DeliveryResult.Permanent>(await _sender.SendAsync(Deliveries.Of(new { chatId = 1, text = "x" }), default));
        Assert.Contains(elsewhere.BaseUrl + "/steal", result.Error);
        Assert.Empty(elsewhere.Requests);
    }

    [Fact]
    public async Task a_server_error_is_transient()
    {
        _botApi.ReplyNextWith(new PeerReply(502, """{"ok":false,"error_code":502,"description":"Bad Gateway"}"""));
        Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { chatId = 1, text = "x" }), default));
    }
}
