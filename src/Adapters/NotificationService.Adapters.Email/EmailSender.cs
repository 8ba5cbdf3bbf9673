using System.Collections.Concurrent;
using System.Diagnostics;
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
/// send) instead of paying connect, TLS and AUTH for every message. A kept connection is checked before it is used again,
/// because servers end idle sessions (often after 30 s or so) and the client only finds out when it next writes.
/// </summary>
public sealed class EmailSender(EmailConfig config) : IChannelSender, IAsyncDisposable
{
    /// <summary>A connection idle longer than this is also probed with NOOP, for a peer that vanished without closing.</summary>
    private static readonly TimeSpan ProbeAfter = TimeSpan.FromSeconds(5);

    private sealed record Pooled(SmtpClient Client, Socket Socket, long IdleSince);

    private readonly ConcurrentBag<Pooled> _idle = new();

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        MimeMessage message;
        try { message = Compose(delivery); }
        catch (Exception e) when (e is ParseException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return new DeliveryResult.Permanent($"The params cannot be turned into an email: {e.Message}");
        }

        Pooled? connection = null;
        // A cancel aborts the send only until the whole message is written: cut off before its end, the server never
        // accepts it; once written, the server's reply decides (within the client's timeout).
        using var abort = delivery.Progress.AbortUntilSent(cancellation);
        try
        {
            connection = await RentAsync(abort.Token);
            var reply = await connection.Client.SendAsync(message, abort.Token, new MessageWritten(delivery.Progress));
            Return(connection);
            return new DeliveryResult.Delivered(reply);
        }
        catch (Exception e) when (Classify(e) is { } result)
        {
            Discard(connection);
            return result;
        }
        catch
        {
            Discard(connection);
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

    private async Task<Pooled> RentAsync(CancellationToken cancellation)
    {
        while (_idle.TryTake(out var idle))
        {
            bool usable;
            try { usable = await IsUsableAsync(idle, cancellation); }
            catch { Discard(idle); throw; } // a cancel during the check: the connection is in no known state
            if (usable) return idle;
            Discard(idle);
        }
        return await ConnectAsync(cancellation);
    }

    private static async Task<bool> IsUsableAsync(Pooled idle, CancellationToken cancellation)
    {
        if (!idle.Client.IsConnected) return false;
        // An SMTP server speaks only when spoken to, so anything readable on an idle session is its goodbye (a 421 or 221
        // timeout reply, or the closed connection): seen locally, without a round trip.
        try { if (idle.Socket.Poll(0, SelectMode.SelectRead)) return false; }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return false; }
        if (Stopwatch.GetElapsedTime(idle.IdleSince) < ProbeAfter) return true;
        try
        {
            await idle.Client.NoOpAsync(cancellation);
            return true;
        }
        catch (Exception e) when (Classify(e) is not null)
        {
            return false;
        }
    }

    /// <summary>Connects our own socket (so an idle session can be checked on it), then TLS and AUTH as configured.</summary>
    private async Task<Pooled> ConnectAsync(CancellationToken cancellation)
    {
        var client = new SmtpClient { Timeout = 30_000 };
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                connect.CancelAfter(client.Timeout);
                try { await socket.ConnectAsync(config.Host, config.Port, connect.Token); }
                catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                {
                    throw new TimeoutException($"Connecting to {config.Host}:{config.Port} timed out.");
                }
            }
            await client.ConnectAsync(socket, config.Host, config.Port, config.SocketOptions, cancellation);
            if (!string.IsNullOrEmpty(config.Username))
                await client.AuthenticateAsync(config.Username, config.Password ?? "", cancellation);
            return new Pooled(client, socket, Stopwatch.GetTimestamp());
        }
        catch
        {
            client.Dispose();
            socket.Dispose();
            throw;
        }
    }

    private void Return(Pooled connection)
    {
        if (connection.Client.IsConnected) _idle.Add(connection with { IdleSince = Stopwatch.GetTimestamp() });
        else Discard(connection);
    }

    private static void Discard(Pooled? connection)
    {
        connection?.Client.Dispose();
        connection?.Socket.Dispose();
    }

    /// <summary>SMTP 5xx and refused credentials will not get better by retrying; 4xx and broken connections may.</summary>
    /// <summary>
    /// The tenant sees a classified reason with the reply code; what the server said (its own wording, which can name
    /// hosts, policies or other recipients) is the operator-only detail, as for the HTTP channels.
    /// </summary>
    private static DeliveryResult? Classify(Exception e) => e switch
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

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryTake(out var connection))
        {
            try { if (connection.Client.IsConnected) await connection.Client.DisconnectAsync(quit: true); }
            catch (Exception e) when (Classify(e) is not null) { } // the server had already gone
            Discard(connection);
        }
    }
}
