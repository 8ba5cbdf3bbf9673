using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Adapters.Vk;
using NotificationService.Contracts;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Channels;

/// <summary>The VK sender against a local server that answers like the VK API's messages.send.</summary>
public sealed class VkSenderTests : IAsyncLifetime
{
    private HttpPeer _vk = null!;
    private VkSender _sender = null!;

    public async Task InitializeAsync()
    {
        _vk = await HttpPeer.StartAsync();
        _sender = new VkSender(new VkConfig("vk1.a.community-token", _vk.BaseUrl, "5.131", AllowPrivateNetwork: true));
    }

    public async Task DisposeAsync()
    {
        _sender.Dispose();
        await _vk.DisposeAsync();
    }

    private static string VkError(int code, string message) =>
        JsonSerializer.Serialize(new { error = new { error_code = code, error_msg = message, request_params = Array.Empty<object>() } });

    [Fact]
    public async Task a_message_to_a_peer_is_a_form_post_with_every_param_mapped()
    {
        _vk.ReplyNextWith(new PeerReply(200, """{"response":314}"""));
        var delivery = Deliveries.Of(new
        {
            peerId = 2000000001L, message = "Disk full @all", attachment = "photo-1_2,doc-1_3",
            keyboard = new { one_time = true, buttons = Array.Empty<object>() }, disableMentions = true,
        });

        var result = await _sender.SendAsync(delivery, default);

        Assert.Equal("314", Assert.IsType<DeliveryResult.Delivered>(result).ProviderMessageId);
        var request = Assert.Single(_vk.Requests);
        Assert.Equal("/method/messages.send", request.Path);
        Assert.StartsWith("application/x-www-form-urlencoded", request.Headers["Content-Type"]);
        var form = System.Web.HttpUtility.ParseQueryString(request.Body);
        Assert.Equal("vk1.a.community-token", form["access_token"]);
        Assert.Equal("5.131", form["v"]);
        Assert.Equal("2000000001", form["peer_id"]);
        Assert.Null(form["domain"]);
        Assert.Equal("Disk full @all", form["message"]);
        Assert.Equal(VkSender.RandomId(delivery.JobId).ToString(), form["random_id"]);
        Assert.Equal("photo-1_2,doc-1_3", form["attachment"]);
        Assert.Equal("""{"one_time":true,"buttons":[]}""", form["keyboard"]);
        Assert.Equal("1", form["disable_mentions"]);
    }

    [Fact]
    public async Task a_message_to_a_screen_name_sends_the_domain_and_only_the_params_given()
    {
        using var sender = new VkSender(new VkConfig("token", _vk.BaseUrl + "/", AllowPrivateNetwork: true)); // no version: the default
        _vk.ReplyNextWith(new PeerReply(200, """{"response":7}"""));

        Assert.IsType<DeliveryResult.Delivered>(await sender.SendAsync(Deliveries.Of(new { domain = "durov", message = "hi" }), default));

        var request = Assert.Single(_vk.Requests);
        Assert.Equal("/method/messages.send", request.Path);
        var form = System.Web.HttpUtility.ParseQueryString(request.Body);
        Assert.Equal("durov", form["domain"]);
        Assert.Equal("5.199", form["v"]);
        Assert.Equal(new[] { "access_token", "v", "random_id", "message", "domain" }, form.AllKeys!);
    }

    [Fact]
    public void the_random_id_is_the_jobs_own_on_every_attempt_and_within_vks_positive_int32_range()
    {
        var job = Guid.NewGuid();
        Assert.Equal(VkSender.RandomId(job), VkSender.RandomId(Guid.Parse(job.ToString())));
        var ids = Enumerable.Range(0, 10_000).Select(_ => VkSender.RandomId(Guid.NewGuid())).ToList();
        Assert.All(ids, id => Assert.InRange(id, 1, int.MaxValue)); // 0 would switch VK's check off
        Assert.True(ids.Distinct().Count() >= 9_990, "ids spread over the range"); // ~0.02 expected collisions among 10,000
    }

    [Theory]
    [InlineData(6, "Too many requests per second")]
    [InlineData(9, "Flood control")]
    [InlineData(10, "Internal server error")]
    [InlineData(29, "Rate limit reached")]
    [InlineData(1, "Unknown error occurred")]
    public void rate_limits_flood_control_and_vks_own_errors_are_transient(int code, string message)
    {
        var result = Assert.IsType<DeliveryResult.Transient>(VkSender.Classify(VkError(code, message)));
        Assert.Null(result.RetryAfter); // the adapter's jittered backoff: VK never says how long
        Assert.StartsWith($"VK answered error {code}: ", result.Error);
        Assert.Equal(message, result.Detail); // VK's words are for the operator
    }

    [Theory]
    [InlineData(5, "VK answered error 5: authorization failed.")]
    [InlineData(7, "VK answered error 7: permission denied.")]
    [InlineData(15, "VK answered error 15: access denied.")]
    [InlineData(100, "VK answered error 100: a parameter is missing or invalid.")]
    [InlineData(901, "VK answered error 901: the user has not allowed messages from the community.")]
    [InlineData(902, "VK answered error 902: the user's privacy settings forbid the message.")]
    [InlineData(914, "VK answered error 914: the message is too long.")]
    [InlineData(14, "VK answered error 14.")] // captcha needed: a code outside the table is permanent
    public void token_rights_and_request_errors_are_permanent(int code, string error)
    {
        var result = Assert.IsType<DeliveryResult.Permanent>(VkSender.Classify(VkError(code, "VK's own words")));
        Assert.Equal(error, result.Error);
        Assert.Equal("VK's own words", result.Detail);
    }

    [Fact]
    public async Task vks_errors_arrive_with_http_200_and_are_classified_from_the_body()
    {
        _vk.ReplyNextWith(new PeerReply(200, VkError(5, "User authorization failed: invalid access_token (4).")));
        var refused = Assert.IsType<DeliveryResult.Permanent>(await _sender.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default));
        Assert.Equal("VK answered error 5: authorization failed.", refused.Error);
        Assert.Contains("invalid access_token", refused.Detail);

        _vk.ReplyNextWith(new PeerReply(200, VkError(9, "Flood control")));
        Assert.Null(Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default)).RetryAfter);
        Assert.Equal(2, _vk.Requests.Count); // no retry inside the send: the job's next attempt waits instead
    }

    [Fact]
    public async Task http_failures_and_answers_not_in_vks_shape_are_classified_like_the_other_channels()
    {
        _vk.ReplyNextWith(new PeerReply(503, "<html>busy</html>"));
        Assert.Equal("The provider answered HTTP 503 Service Unavailable.",
            Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default)).Error);

        _vk.ReplyNextWith(new PeerReply(429, "", new Dictionary<string, string> { ["Retry-After"] = "4" }));
        Assert.Equal(TimeSpan.FromSeconds(4),
            Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default)).RetryAfter);

        _vk.ReplyNextWith(new PeerReply(404, "not found"));
        Assert.IsType<DeliveryResult.Permanent>(await _sender.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default));

        // A 200 that is not VK's JSON may or may not have been sent; the retry carries the same random_id, so it is safe.
        _vk.ReplyNextWith(new PeerReply(200, "<html>gateway</html>"));
        var odd = Assert.IsType<DeliveryResult.Transient>(await _sender.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default));
        Assert.Equal("<html>gateway</html>", odd.Detail);
    }

    [Fact]
    public async Task a_private_address_is_refused_unless_the_config_allows_it()
    {
        using var strict = new VkSender(new VkConfig("token", _vk.BaseUrl));
        var result = Assert.IsType<DeliveryResult.Permanent>(await strict.SendAsync(Deliveries.Of(new { peerId = 1, message = "x" }), default));
        Assert.Contains("allowPrivateNetwork", result.Error);
        Assert.Empty(_vk.Requests);
    }

    [Fact]
    public void a_peer_ids_answer_is_kept_whole_as_the_provider_message_id()
    {
        var body = """{"response":[{"peer_id":1,"message_id":5}]}""";
        Assert.Equal(JsonDocument.Parse(body).RootElement.GetProperty("response").GetRawText(),
            Assert.IsType<DeliveryResult.Delivered>(VkSender.Classify(body)).ProviderMessageId);
    }
}
