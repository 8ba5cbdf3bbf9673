using System.Text;
using NotificationService.Adapters.Runtime;
using NotificationService.Adapters.Sms;
using NotificationService.Contracts;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Channels;

/// <summary>The SMS sender against a local server shaped like Twilio's Messages API.</summary>
public sealed class SmsSenderTests : IAsyncLifetime
{
    private HttpPeer _gateway = null!;
    private SmsSender _sender = null!;

    public async Task InitializeAsync()
    {
        _gateway = await HttpPeer.StartAsync();
        _sender = new SmsSender(new SmsConfig(_gateway.BaseUrl, "AC123", "auth-token", "+15550001111", AllowPrivateNetwork: true));
    }

    public async Task DisposeAsync()
    {
        _sender.Dispose();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task a_message_is_a_form_post_with_basic_auth_to_the_accounts_messages_resource()
    {
        _gateway.ReplyNextWith(new PeerReply(201, """{"sid":"SM42","status":"queued"}"""));

        var result = await _sender.SendAsync(Deliveries.Of(new { to = "+4915112345678", text = "Your code is 1234" }), default);

        Assert.Equal("SM42", Assert.IsType<DeliveryResult.Delivered>(result).ProviderMessageId);
        var request = Assert.Single(_gateway.Requests);
        Assert.Equal("/2010-04-01/Accounts/AC123/Messages.json", request.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("AC123:auth-token")), request.Headers["Authorization"]);
        var form = System.Web.HttpUtility.ParseQueryString(request.Body);
        Assert.Equal("+4915112345678", form["To"]);
        Assert.Equal("+15550001111", form["From"]);
        Assert.Equal("Your code is 1234", form["Body"]);
    }

    [Fact]
    public async Task an_invalid_number_is_permanent_and_throttling_waits_as_told()
    {
        _gateway.ReplyNextWith(new PeerReply(400, """{"code":21211,"message":"Invalid 'To' Phone Number"}"""));
        var invalid = Assert.IsType<DeliveryResult.Permanent>(await _sender.SendAsync(Deliveries.Of(new { to = "+1", text = "x" }), default));
        Assert.Equal("The provider answered HTTP 400 Bad Request.", invalid.Error);
        Assert.Contains("21211", invalid.Detail);

        _gateway.ReplyNextWith(new PeerReply(429, """{"code":20429,"message":"Too Many Requests"}""", new Dictionary<string, string> { ["Retry-After"] = "3" }));
        Assert.Equal(TimeSpan.FromSeconds(3), Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { to = "+1", text = "x" }), default)).RetryAfter);

        _gateway.ReplyNextWith(new PeerReply(503, "{}"));
        Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { to = "+1", text = "x" }), default));
    }
}
