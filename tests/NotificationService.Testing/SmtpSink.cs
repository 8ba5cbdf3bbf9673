using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MimeKit;
using SmtpServer;
using SmtpServer.Authentication;
using SmtpServer.ComponentModel;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace NotificationService.Testing;

/// <summary>
/// A real SMTP server on 127.0.0.1 (the SmtpServer package) that keeps what it receives, can require a login and can be
/// told to answer the next messages with a given reply, so email delivery is tested over the real protocol. Like real servers
/// it can close a session that sat idle (<c>idleTimeout</c>), as a pooled client's connection meets it after a quiet spell.
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;
    private readonly Lock _scriptLock = new();
    private readonly List<(SmtpResponse Reply, string? To)> _scriptedReplies = [];

    private int _sessionsEnded;

    public int Port { get; }
    /// <summary>How many client sessions have ended, by the client's QUIT or by the server (an idle timeout).</summary>
    public int SessionsEnded => Volatile.Read(ref _sessionsEnded);
    public ConcurrentQueue<MimeMessage> Received { get; } = new();

    /// <summary>When set, only this user and password may log in, and logging in is required.</summary>
    public (string User, string Password)? RequiredLogin { get; }

    public SmtpSink((string User, string Password)? requiredLogin = null, TimeSpan? idleTimeout = null)
    {
        RequiredLogin = requiredLogin;
        Port = FreePort();
        var builder = new SmtpServerOptionsBuilder();
        if (idleTimeout is { } idle) builder.CommandWaitTimeout(idle);
        var options = builder
            .ServerName("localhost")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, Port))
                .AllowUnsecureAuthentication(requiredLogin is not null)
                .AuthenticationRequired(requiredLogin is not null))
            .Build();
        var services = new ServiceProvider();
        services.Add(new Store(this));
        if (requiredLogin is { } login) services.Add(new Authenticator(login.User, login.Password));
        var server = new SmtpServer.SmtpServer(options, services);
        server.SessionCompleted += (_, _) => Interlocked.Increment(ref _sessionsEnded);
        server.SessionFaulted += (_, _) => Interlocked.Increment(ref _sessionsEnded);
        _running = server.StartAsync(_stop.Token);
    }

    /// <summary>
    /// The next message gets this reply instead of 250 (e.g. 451 for a transient, 550 for a permanent failure); with
    /// <paramref name="to"/>, the next message to that address, so a message of someone else's arriving first (a shared
    /// sink) neither takes the reply nor leaves it for the next one.
    /// </summary>
    public void ReplyNextWith(SmtpReplyCode code, string text, string? to = null)
    {
        lock (_scriptLock) _scriptedReplies.Add((new SmtpResponse(code, text), to));
    }

    /// <summary>Forgets what was received and every scripted reply not yet given (a shared sink between tests).</summary>
    public void Reset()
    {
        lock (_scriptLock) _scriptedReplies.Clear();
        BeforeReply = null;
        Received.Clear();
    }

    private SmtpResponse? ScriptedReplyFor(MimeMessage message)
    {
        lock (_scriptLock)
        {
            var index = _scriptedReplies.FindIndex(s => s.To is null || message.To.Mailboxes.Any(b => b.Address.Equals(s.To, StringComparison.OrdinalIgnoreCase)));
            if (index < 0) return null;
            var reply = _scriptedReplies[index].Reply;
            _scriptedReplies.RemoveAt(index);
            return reply;
        }
    }

    /// <summary>Awaited after a whole message arrived and before it is answered (a server slow to say 250).</summary>
    public Func<Task>? BeforeReply { get; set; }

    public IEnumerable<MimeMessage> To(string address) =>
        Received.Where(m => m.To.Mailboxes.Any(b => b.Address.Equals(address, StringComparison.OrdinalIgnoreCase)));

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _running; } catch (OperationCanceledException) { }
    }

    private sealed class Store(SmtpSink sink) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            if (sink.BeforeReply is { } wait) await wait();
            await using var stream = new MemoryStream(buffer.ToArray());
            var message = await MimeMessage.LoadAsync(stream, cancellationToken);
            if (sink.ScriptedReplyFor(message) is { } scripted) return scripted;
            sink.Received.Enqueue(message);
            return SmtpResponse.Ok;
        }
    }

    private sealed class Authenticator(string user, string password) : UserAuthenticator
    {
        public override Task<bool> AuthenticateAsync(ISessionContext context, string u, string p, CancellationToken cancellationToken) =>
            Task.FromResult(u == user && p == password);
    }
}
