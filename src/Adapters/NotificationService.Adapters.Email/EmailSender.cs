using System.Net.Sockets;
using System.Text.Json;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;

namespace NotificationService.Adapters.Email;

/// <summary>
/// Sends through the configured SMTP server: builds the message from the job's params, sends it on a pooled connection
/// (<see cref="SmtpClientPool"/>), and classifies what went wrong.
/// </summary>
public sealed class EmailSender(EmailConfig config) : IChannelSender, IAsyncDisposable
{
    private readonly SmtpClientPool _pool = new(config);

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        MimeMessage message;
        try { message = Compose(delivery); }
        catch (Exception e) when (e is ParseException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return new DeliveryResult.Permanent($"The params cannot be turned into an email: {e.Message}");
        }

        SmtpClientPool.Connection? connection = null;
        // A cancel aborts the send only until the whole message is written: cut off before its end, the server never
        // accepts it; once written, the server's reply decides (within the client's timeout).
        using var abort = delivery.Progress.AbortUntilSent(cancellation);
        try
        {
            connection = await _pool.RentAsync(abort.Token);
            var reply = await connection.Client.SendAsync(message, abort.Token, new MessageWritten(delivery.Progress));
            _pool.Return(connection);
            return new DeliveryResult.Delivered(reply);
        }
        catch (Exception e) when (Classify(e) is { } result)
        {
            SmtpClientPool.Discard(connection);
            return result;
        }
        catch
        {
            SmtpClientPool.Discard(connection);
            throw;
        }
    }

    /// <summary>MailKit reports the bytes of the message it has written; all of them means the request is complete.</summary>
    private sealed class MessageWritten(SendProgress progress) : ITransferProgress
    {
        public void Report(long bytesTransferred, long totalSize)
        {
            if (totalSize > 0 && bytesTransferred >= totalSize) progress.MarkSent();
        }

        public void Report(long bytesTransferred) { }
    }

    private MimeMessage Compose(ChannelDelivery delivery)
    {
        var p = delivery.Params;
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(config.From));
        message.To.AddRange(Addresses(p.GetProperty("to")));
        if (p.TryGetProperty("cc", out var cc)) message.Cc.AddRange(Addresses(cc));
        message.Subject = p.GetProperty("subject").GetString() ?? "";
        // The job id lets a recipient's mail system and an operator tie a message back to its job.
        message.Headers.Add("X-Notification-Job", delivery.JobId.ToString());
        // One Message-ID per job, whatever the attempt: a resend after a crash mid-send carries the same id, so mail
        // clients, archives and list servers that fold duplicates by Message-ID show it once (SMTP itself has no idempotency).
        message.MessageId = MessageId(delivery.JobId, config.From);
        var body = new BodyBuilder
        {
            TextBody = p.TryGetProperty("text", out var text) ? text.GetString() : null,
            HtmlBody = p.TryGetProperty("html", out var html) ? html.GetString() : null,
        };
        message.Body = body.ToMessageBody();
        return message;
    }

    /// <summary>RFC 5322 id-left "ns.&lt;job id&gt;" at the sender's domain, which is where the id is meant to be unique.</summary>
    public static string MessageId(Guid jobId, string from) => $"ns.{jobId:N}@{MailboxAddress.Parse(from).Domain}";

    private static IEnumerable<InternetAddress> Addresses(JsonElement value) =>
        value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Select(a => MailboxAddress.Parse(a.GetString() ?? ""))
            : [MailboxAddress.Parse(value.GetString() ?? "")];

    /// <summary>
    /// SMTP 5xx and refused credentials will not get better by retrying; 4xx and broken connections may (null: not an
    /// SMTP or connection failure). The tenant sees a classified reason with the reply code; what the server said (its
    /// own wording, which can name hosts, policies or other recipients) is the operator-only detail, as for the HTTP channels.
    /// </summary>
    internal static DeliveryResult? Classify(Exception e) => e switch
    {
        SmtpCommandException c when (int)c.StatusCode >= 500 =>
            new DeliveryResult.Permanent($"The SMTP server refused the message: {(int)c.StatusCode} {c.StatusCode}.", HttpOutcomes.Excerpt(c.Message)),
        SmtpCommandException c =>
            new DeliveryResult.Transient($"The SMTP server deferred the message: {(int)c.StatusCode} {c.StatusCode}.", Detail: HttpOutcomes.Excerpt(c.Message)),
        AuthenticationException a => new DeliveryResult.Permanent("SMTP authentication failed.", HttpOutcomes.Excerpt(a.Message)),
        SslHandshakeException s => new DeliveryResult.Permanent("The TLS handshake with the SMTP server failed.", HttpOutcomes.Excerpt(s.Message)),
        SmtpProtocolException or ServiceNotConnectedException or IOException or SocketException or TimeoutException
            => new DeliveryResult.Transient("SMTP connection problem.", Detail: HttpOutcomes.Excerpt($"{e.GetType().Name}: {e.Message}")),
        _ => null,
    };

    public ValueTask DisposeAsync() => _pool.DisposeAsync();
}
