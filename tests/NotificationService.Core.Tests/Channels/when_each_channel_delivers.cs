using System.Text.Json;
using NotificationService.Adapters.Sms;
using NotificationService.Adapters.Telegram;
using NotificationService.Adapters.Webhook;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Channels;

/// <summary>Each adapter type end to end: offer -> core -> RabbitMQ -> a real worker host -> a real protocol peer.</summary>
public sealed class when_each_channel_delivers(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task telegram_through_the_bot_api()
    {
        await using var botApi = await HttpPeer.StartAsync();
        botApi.Reply = _ => new PeerReply(200, """{"ok":true,"result":{"message_id":9,"date":0,"chat":{"id":77,"type":"private"}}}""");
        var adapter = await System.CreateAdapterAsync(UniqueName("tg"), "telegram", new { botToken = "4242:secret-bot-token", apiBaseUrl = botApi.BaseUrl, allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<TelegramSender, TelegramConfig>("telegram", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { chatId = 77, text = "Build failed" } } } }, worker: worker);

        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State);
        var request = Assert.Single(botApi.Requests);
        Assert.Equal("/bot4242:secret-bot-token/sendMessage", request.Path);
        Assert.Equal("Build failed", JsonDocument.Parse(request.Body).RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public async Task telegram_chat_not_found_fails_the_job_at_once()
    {
        await using var botApi = await HttpPeer.StartAsync();
        botApi.Reply = _ => new PeerReply(400, """{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}""");
        var adapter = await System.CreateAdapterAsync(UniqueName("tg"), "telegram", new { botToken = "4242:secret-bot-token", apiBaseUrl = botApi.BaseUrl, allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<TelegramSender, TelegramConfig>("telegram", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { chatId = 1, text = "x" } } } }, worker: worker);

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal("Telegram answered 400 Bad Request.", job.LastError);
        Assert.Single(botApi.Requests);
    }

    [Fact]
    public async Task sms_through_a_twilio_shaped_gateway_after_a_throttled_first_attempt()
    {
        await using var gateway = await HttpPeer.StartAsync();
        gateway.ReplyNextWith(new PeerReply(429, "{}", new Dictionary<string, string> { ["Retry-After"] = "1" }));
        gateway.Reply = _ => new PeerReply(201, """{"sid":"SM1"}""");
        var adapter = await System.CreateAdapterAsync(UniqueName("sms"), "sms", new { baseUrl = gateway.BaseUrl, accountSid = "AC1", authToken = "tok", from = "+15550001111", allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<SmsSender, SmsConfig>("sms", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { to = "+4915112345678", text = "Code 1234" } } } },
            deliveries: 2, worker: worker); // throttled, then its retry

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(2, job.Attempts);
        Assert.Equal(2, gateway.Requests.Count);
        var requests = gateway.Requests.ToArray();
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(0.9), "the retry honoured Retry-After");
    }

    [Fact]
    public async Task a_webhook_with_a_signature_the_receiver_verifies()
    {
        await using var receiver = await HttpPeer.StartAsync();
        const string secret = "webhook-secret-0123456789";
        var adapter = await System.CreateAdapterAsync(UniqueName("hook"), "webhook", new { url = receiver.BaseUrl + "/in", secret, allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { orderId = 7 } } } } }, worker: worker);

        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State);
        var request = Assert.Single(receiver.Requests);
        Assert.Equal(7, JsonDocument.Parse(request.Body).RootElement.GetProperty("orderId").GetInt32());
        var signature = request.Headers["X-NS-Signature"].Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(WebhookSender.Sign(secret, long.Parse(signature["t"]), request.Body), signature["v1"]);
        Assert.Equal(offer.Jobs[0].Id.ToString(), request.Headers["X-NS-Job"]);
    }
}
