using NotificationService.Adapters.Email;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Testing;
using SmtpServer.Protocol;

namespace NotificationService.Adapters.Tests.Channels;

/// <summary>The email sender against a real SMTP server that requires a login.</summary>
public sealed class EmailSenderTests : IAsyncLifetime
{
    private readonly SmtpSink _smtp = new(requiredLogin: ("mailer", "right-password"));

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _smtp.DisposeAsync();

    private EmailSender Sender(string password) =>
        new(new EmailConfig("127.0.0.1", _smtp.Port, "Alerts <alerts@example.test>", "none", "mailer", password));

    [Fact]
    public async Task it_logs_in_and_reuses_the_connection_for_the_next_message()
    {
        await using var sender = Sender("right-password");
        var first = await sender.SendAsync(Deliveries.Of(new { to = new[] { "a@example.test", "b@example.test" }, cc = "c@example.test", subject = "One", html = "<p>1</p>" }), default);
        var second = await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "Two", text = "2" }), default);

        Assert.IsType<DeliveryResult.Delivered>(first);
        Assert.IsType<DeliveryResult.Delivered>(second);
        var one = Assert.Single(_smtp.Received, m => m.Subject == "One");
        Assert.Equal(["a@example.test", "b@example.test"], one.To.Mailboxes.Select(m => m.Address));
        Assert.Equal("c@example.test", one.Cc.Mailboxes.Single().Address);
        Assert.Equal("<p>1</p>", one.HtmlBody?.Trim());
    }

    [Fact]
    public async Task every_attempt_of_a_job_carries_the_same_message_id_and_another_job_another()
    {
        await using var sender = Sender("right-password");
        var job = Guid.NewGuid();
        var parameters = System.Text.Json.JsonSerializer.SerializeToElement(new { to = "a@example.test", subject = "Resent", text = "x" });
        await sender.SendAsync(new ChannelDelivery(job, 1, parameters), default);
        await sender.SendAsync(new ChannelDelivery(job, 2, parameters), default); // e.g. the redelivery after a crash mid-send
        await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "Other", text = "y" }), default);

        var resent = _smtp.Received.Where(m => m.Subject == "Resent").Select(m => m.MessageId).ToList();
        Assert.Equal([$"ns.{job:N}@example.test", $"ns.{job:N}@example.test"], resent);
        Assert.NotEqual(resent[0], Assert.Single(_smtp.Received, m => m.Subject == "Other").MessageId);
    }

    [Fact]
    public async Task a_cancel_after_the_whole_message_was_written_no_longer_aborts_it_and_the_reply_decides()
    {
        var received = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        _smtp.BeforeReply = async () => { received.TrySetResult(); await release.Task; };
        await using var sender = Sender("right-password");
        var delivery = Deliveries.Of(new { to = "a@example.test", subject = "Paid", text = "x" });
        using var cancel = new CancellationTokenSource();
        var send = sender.SendAsync(delivery, cancel.Token);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(10));

        cancel.Cancel();
        release.SetResult();

        Assert.IsType<DeliveryResult.Delivered>(await send.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(delivery.Progress.PossiblyDelivered);
        Assert.Single(_smtp.Received, m => m.Subject == "Paid");
    }

    [Fact]
    public async Task a_cancel_before_the_message_is_written_aborts_it_and_nothing_could_have_been_delivered()
    {
        await using var sender = Sender("right-password");
        var delivery = Deliveries.Of(new { to = "a@example.test", subject = "Never", text = "x" });
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sender.SendAsync(delivery, cancel.Token));
        Assert.False(delivery.Progress.PossiblyDelivered);
        Assert.DoesNotContain(_smtp.Received, m => m.Subject == "Never");
    }

    [Fact]
    public async Task a_refused_login_is_permanent()
    {
        await using var sender = Sender("wrong-password");
        Assert.Contains("authentication", Assert.IsType<DeliveryResult.Permanent>(
            await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "x", text = "x" }), default)).Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task smtp_4xx_is_transient_and_5xx_permanent()
    {
        await using var sender = Sender("right-password");
        _smtp.ReplyNextWith((SmtpReplyCode)451, "local error");
        Assert.IsType<DeliveryResult.Transient>(await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "x", text = "x" }), default));
        _smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such user");
        Assert.IsType<DeliveryResult.Permanent>(await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "x", text = "x" }), default));
    }

    [Fact]
    public async Task the_first_send_after_the_server_dropped_an_idle_connection_is_delivered()
    {
        // Long enough that a busy machine's pauses between the commands of one send are not mistaken for idleness.
        await using var smtp = new SmtpSink(idleTimeout: TimeSpan.FromSeconds(2));
        await using var sender = new EmailSender(new EmailConfig("127.0.0.1", smtp.Port, "a@example.test", "none"));
        Assert.IsType<DeliveryResult.Delivered>(await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "before", text = "x" }), default));

        // The pooled connection stays open on our side while the server ends the idle session, as real servers do.
        await Eventually.Until(() => smtp.SessionsEnded == 1, what: "the server to drop the idle session");

        var after = await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "after", text = "x" }), default);
        Assert.True(after is DeliveryResult.Delivered, $"the first send after the drop: {after}");
        Assert.Single(smtp.Received, m => m.Subject == "after");
    }

    [Fact]
    public async Task a_server_that_is_not_there_is_transient()
    {
        await using var sender = new EmailSender(new EmailConfig("127.0.0.1", SmtpSink.FreePort(), "a@example.test", "none"));
        Assert.IsType<DeliveryResult.Transient>(await sender.SendAsync(Deliveries.Of(new { to = "a@example.test", subject = "x", text = "x" }), default));
    }
}
