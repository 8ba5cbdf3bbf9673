using NotificationService.Adapters.Runtime;
using NotificationService.Adapters.Webhook;
using NotificationService.Contracts;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Channels;

/// <summary>The webhook sender against a local receiver that checks the signature as a real receiver would.</summary>
public sealed class WebhookSenderTests : IAsyncLifetime
{
    private const string Secret = "a-shared-secret-of-some-length";
    private HttpPeer _receiver = null!;

    public async Task InitializeAsync() => _receiver = await HttpPeer.StartAsync();
    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    private WebhookSender Sender(double timeoutSeconds = 10, bool allowPrivateNetwork = true) =>
        new(new WebhookConfig(_receiver.BaseUrl + "/hooks/ns", Secret, timeoutSeconds, allowPrivateNetwork), TimeProvider.System);

    [Fact]
    public async Task the_payload_arrives_as_json_with_a_signature_the_receiver_can_verify()
    {
        using var sender = Sender();
        var delivery = Deliveries.Of(new { payload = new { @event = "order.paid", amount = 42 } });
        var result = await sender.SendAsync(delivery, default);

        Assert.IsType<DeliveryResult.Delivered>(result);
        var request = Assert.Single(_receiver.Requests);
        Assert.Equal("/hooks/ns", request.Path);
        Assert.Equal("""{"event":"order.paid","amount":42}""", request.Body);
        Assert.Equal(delivery.JobId.ToString(), request.Headers[WebhookAdapterType.JobHeader]);
        Assert.Equal($"{delivery.JobId}.1", request.Headers[WebhookAdapterType.DeliveryHeader]);

        var parts = request.Headers[WebhookAdapterType.SignatureHeader].Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var timestamp = long.Parse(parts["t"]);
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp, 0, 5);
        Assert.Equal(WebhookSender.Sign(Secret, timestamp, request.Body), parts["v1"]);
        Assert.NotEqual(WebhookSender.Sign("another-secret-entirely!", timestamp, request.Body), parts["v1"]);
    }

    [Theory]
    [InlineData(500, typeof(DeliveryResult.Transient))]
    [InlineData(429, typeof(DeliveryResult.Transient))]
    [InlineData(404, typeof(DeliveryResult.Permanent))]
    [InlineData(410, typeof(DeliveryResult.Permanent))]
    public async Task the_receivers_status_decides_between_retry_and_give_up(int status, Type expected)
    {
        using var sender = Sender();
        _receiver.ReplyNextWith(new PeerReply(status, "{}"));
        Assert.IsType(expected, await sender.SendAsync(Deliveries.Of(new { payload = new { } }), default));
    }

    [Fact]
    public async Task a_second_attempt_of_a_job_keeps_its_job_header_and_gets_a_new_delivery_id()
    {
        using var sender = Sender();
        var first = Deliveries.Of(new { payload = new { n = 1 } });
        await sender.SendAsync(first, default);
        await sender.SendAsync(new ChannelDelivery(first.JobId, 2, first.Params), default);

        var requests = _receiver.Requests.ToArray();
        Assert.Equal([first.JobId.ToString(), first.JobId.ToString()], requests.Select(r => r.Headers[WebhookAdapterType.JobHeader]));
        Assert.Equal([$"{first.JobId}.1", $"{first.JobId}.2"], requests.Select(r => r.Headers[WebhookAdapterType.DeliveryHeader]));
    }

    [Fact]
    public async Task an_unreachable_receiver_is_transient()
    {
        using var sender = new WebhookSender(new WebhookConfig($"http://127.0.0.1:{SmtpSink.FreePort()}/x", Secret, 2, AllowPrivateNetwork: true), TimeProvider.System);
        Assert.IsType<DeliveryResult.Transient>(await sender.SendAsync(Deliveries.Of(new { payload = new { } }), default));
    }

    [Fact]
    public async Task a_redirect_is_not_followed_and_fails_for_good_naming_the_location()
    {
        await using var elsewhere = await HttpPeer.StartAsync();
        elsewhere.Reply = _ => new PeerReply(200, """{"internal":"data of another host"}""");
        _receiver.ReplyNextWith(new PeerReply(307, "", new Dictionary<string, string> { ["Location"] = elsewhere.BaseUrl + "/internal" }));

        using var sender = Sender();
        var result = Assert.IsType<DeliveryResult.Permanent>(await sender.SendAsync(Deliveries.Of(new { payload = new { } }), default));

        Assert.Equal($"HTTP 307 redirect to {elsewhere.BaseUrl}/internal was not followed.", result.Error);
        Assert.Empty(elsewhere.Requests); // the signed POST went nowhere else
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")] // a name is checked by what it resolves to, not by its text
    public async Task a_private_address_is_refused_at_connect_time_unless_the_adapter_allows_it(string host)
    {
        var url = new UriBuilder(_receiver.BaseUrl) { Host = host, Path = "/hooks/ns" }.Uri.ToString();
        using var strict = new WebhookSender(new WebhookConfig(url, Secret), TimeProvider.System);
        var refused = Assert.IsType<DeliveryResult.Permanent>(await strict.SendAsync(Deliveries.Of(new { payload = new { } }), default));
        Assert.Contains("allowPrivateNetwork", refused.Error);
        Assert.Empty(_receiver.Requests);

        using var allowed = new WebhookSender(new WebhookConfig(url, Secret, AllowPrivateNetwork: true), TimeProvider.System);
        Assert.IsType<DeliveryResult.Delivered>(await allowed.SendAsync(Deliveries.Of(new { payload = new { } }), default));
    }

    [Fact]
    public async Task the_receivers_body_stays_out_of_the_error_and_the_detail_is_a_bounded_excerpt()
    {
        _receiver.ReplyNextWith(new PeerReply(422, "internal stack trace: " + new string('x', 200_000)));

        using var sender = Sender();
        var result = Assert.IsType<DeliveryResult.Permanent>(await sender.SendAsync(Deliveries.Of(new { payload = new { } }), default));

        Assert.Equal("The provider answered HTTP 422 Unprocessable Entity.", result.Error);
        Assert.StartsWith("internal stack trace: xxx", result.Detail);
        Assert.InRange(result.Detail!.Length, 100, HttpOutcomes.DetailLength + 1);
    }

    [Fact]
    public async Task a_cancel_while_the_upload_is_still_going_aborts_it_and_the_receiver_gets_nothing()
    {
        var uploading = new TaskCompletionSource();
        var readNow = new TaskCompletionSource();
        // The receiver reads nothing until told, so a body far larger than the socket buffers stalls part way.
        _receiver.BeforeReadingBody = async _ =>
        {
            uploading.TrySetResult();
            await readNow.Task.WaitAsync(TimeSpan.FromSeconds(30));
        };
        using var sender = Sender(timeoutSeconds: 60);
        var delivery = Deliveries.Of(new { payload = new { padding = new string('x', 32 * 1024 * 1024) } });
        using var cancel = new CancellationTokenSource();
        var send = sender.SendAsync(delivery, cancel.Token);
        await uploading.Task.WaitAsync(TimeSpan.FromSeconds(10));

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(delivery.Progress.PossiblyDelivered);
        readNow.SetResult();
        await Eventually.Until(() => _receiver.IncompleteRequests == 1, what: "the receiver to see the upload cut off");
        Assert.Empty(_receiver.Requests);
    }

    [Fact]
    public async Task a_cancel_after_the_request_was_sent_no_longer_aborts_it_and_the_answer_decides()
    {
        var received = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        _receiver.BeforeReply = async (_, _) =>
        {
            received.TrySetResult();
            await release.Task;
        };
        using var sender = Sender();
        var delivery = Deliveries.Of(new { payload = new { @event = "order.paid" } });
        using var cancel = new CancellationTokenSource();
        var send = sender.SendAsync(delivery, cancel.Token);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(10));

        cancel.Cancel();
        release.SetResult();

        Assert.IsType<DeliveryResult.Delivered>(await send.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Single(_receiver.Requests);
    }
}
