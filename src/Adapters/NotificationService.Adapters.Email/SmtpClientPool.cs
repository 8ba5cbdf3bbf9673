using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using MailKit.Net.Smtp;

namespace NotificationService.Adapters.Email;

/// <summary>
/// Authenticated SMTP connections kept open between jobs (one per concurrent send), so a message does not pay connect,
/// TLS and AUTH every time. A kept connection is checked before it is used again, because servers end idle sessions
/// (often after 30 s or so) and the client only finds out when it next writes.
/// </summary>
internal sealed class SmtpClientPool(EmailConfig config) : IAsyncDisposable
{
    /// <summary>A connection idle longer than this is also probed with NOOP, for a peer that vanished without closing.</summary>
    private static readonly TimeSpan ProbeAfter = TimeSpan.FromSeconds(5);

    public sealed record Connection(SmtpClient Client, Socket Socket, long IdleSince);

    private readonly ConcurrentBag<Connection> _idle = new();

    /// <summary>A kept connection that still works, else a new one.</summary>
    public async Task<Connection> RentAsync(CancellationToken cancellation)
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

    /// <summary>After a send the server accepted: kept for the next one.</summary>
    public void Return(Connection connection)
    {
        if (connection.Client.IsConnected) _idle.Add(connection with { IdleSince = Stopwatch.GetTimestamp() });
        else Discard(connection);
    }

    /// <summary>After a failure the connection is in no known state: closed, never reused.</summary>
    public static void Discard(Connection? connection)
    {
        connection?.Client.Dispose();
        connection?.Socket.Dispose();
    }

    private static async Task<bool> IsUsableAsync(Connection idle, CancellationToken cancellation)
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
        catch (Exception e) when (EmailSender.Classify(e) is not null)
        {
            return false;
        }
    }

    /// <summary>Connects our own socket (so an idle session can be checked on it), then TLS and AUTH as configured.</summary>
    private async Task<Connection> ConnectAsync(CancellationToken cancellation)
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
            return new Connection(client, socket, Stopwatch.GetTimestamp());
        }
        catch
        {
            client.Dispose();
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryTake(out var connection))
        {
            try { if (connection.Client.IsConnected) await connection.Client.DisconnectAsync(quit: true); }
            catch (Exception e) when (EmailSender.Classify(e) is not null) { } // the server had already gone
            Discard(connection);
        }
    }
}
