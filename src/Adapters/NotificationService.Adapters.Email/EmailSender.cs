using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using NotificationService.Adapters.Runtime;

namespace NotificationService.Adapters.Email;

/// <summary>
/// Sends through the configured SMTP server, keeping authenticated connections open between jobs (one per concurrent
/// send) instead of paying connect, TLS and AUTH for every message.
/// </summary>
public sealed class EmailSender(EmailConfig config) : IChannelSender, IAsyncDisposable
{
    private readonly ConcurrentBag<SmtpClient> _idle = new();

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        MimeMessage message;
        try { message = Compose(delivery); }
        catch (Exception e) when (e is ParseException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return new DeliveryResult.Permanent($"The params cannot be turned into an email: {e.Message}");
        }

        SmtpClient? client = null;
        try
        {
            client = await RentAsync(cancellation);
            var reply = await client.SendAsync(message, cancellation);
            Return(client);
            return new DeliveryResult.Delivered(reply);
        }
        catch (Exception e) when (Classify(e) is { } result)
        {
            client?.Dispose();
            return result;
        }
        catch
        {
            client?.Dispose();
            throw;
        }
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
        var body = new BodyBuilder
        {
            TextBody = p.TryGetProperty("text", out var text) ? text.GetString() : null,
            HtmlBody = p.TryGetProperty("html", out var html) ? html.GetString() : null,
        };
        message.Body = body.ToMessageBody();
        return message;
    }

    private static IEnumerable<InternetAddress> Addresses(JsonElement value) =>
        value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Select(a => MailboxAddress.Parse(a.GetString() ?? ""))
            : [MailboxAddress.Parse(value.GetString() ?? "")];

    private async Task<SmtpClient> RentAsync(CancellationToken cancellation)
    {
        while (_idle.TryTake(out var idle))
        {
            if (idle.IsConnected) return idle;
            idle.Dispose();
        }
        var client = new SmtpClient { Timeout = 30_000 };
        try
        {
            await client.ConnectAsync(config.Host, config.Port, config.SocketOptions, cancellation);
            if (!string.IsNullOrEmpty(config.Username))
                await client.AuthenticateAsync(config.Username, config.Password ?? "", cancellation);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private void Return(SmtpClient client)
    {
        if (client.IsConnected) _idle.Add(client);
        else client.Dispose();
    }

    /// <summary>SMTP 5xx and refused credentials will not get better by retrying; 4xx and broken connections may.</summary>
    private static DeliveryResult? Classify(Exception e) => e switch
    {
        SmtpCommandException c when (int)c.StatusCode >= 500 => new DeliveryResult.Permanent($"SMTP {(int)c.StatusCode}: {c.Message}"),
        SmtpCommandException c => new DeliveryResult.Transient($"SMTP {(int)c.StatusCode}: {c.Message}"),
        AuthenticationException a => new DeliveryResult.Permanent($"SMTP authentication failed: {a.Message}"),
        SslHandshakeException s => new DeliveryResult.Permanent($"TLS handshake with the SMTP server failed: {s.Message}"),
        SmtpProtocolException or ServiceNotConnectedException or IOException or SocketException or TimeoutException
            => new DeliveryResult.Transient($"SMTP connection problem: {e.Message}"),
        _ => null,
    };

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryTake(out var client))
        {
            if (client.IsConnected) await client.DisconnectAsync(quit: true);
            client.Dispose();
        }
    }
}
