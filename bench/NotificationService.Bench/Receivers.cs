using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SmtpServer;
using SmtpServer.ComponentModel;
using SmtpServer.IO;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace NotificationService.Bench;

/// <summary>
/// What a delivered job reaches: a minimal webhook receiver (so the channel is never the bottleneck) and a real SMTP
/// server. Both count deliveries per job id and keep the monotonic time of the first one.
/// </summary>
public sealed class Receivers : IAsyncDisposable
{
    private readonly WebApplication _http;
    private readonly CancellationTokenSource _stop;
    private readonly Task _smtp;

    public ConcurrentDictionary<Guid, int> Count { get; } = new();
    /// <summary>Status callbacks received at <c>/callbacks</c>, per event id (X-NS-Event-Id): how many times each arrived.</summary>
    public ConcurrentDictionary<Guid, int> Callbacks { get; } = new();
    public ConcurrentDictionary<Guid, long> FirstAt { get; } = new();
    /// <summary>Every callback POST received, and the monotonic time of the last one.</summary>
    public int CallbackTotal => Volatile.Read(ref _callbackTotal);
    public long LastCallbackAt => Interlocked.Read(ref _lastCallbackAt);
    private int _callbackTotal;
    private long _lastCallbackAt;
    /// <summary>How long <c>/callbacks</c> holds its answer (after counting the event): a slow receiver, so deliveries queue up.</summary>
    public TimeSpan CallbackDelay { get; set; }
    public int WebhookPort { get; }
    public string CallbackUrl => $"http://127.0.0.1:{WebhookPort}/callbacks";
    public int SmtpPort { get; }
    public int Total => Count.Values.Sum();

    private Receivers(WebApplication http, int webhookPort, int smtpPort, Task smtp, CancellationTokenSource stop) =>
        (_http, WebhookPort, SmtpPort, _smtp, _stop) = (http, webhookPort, smtpPort, smtp, stop);

    public static async Task<Receivers> StartAsync()
    {
        var webhookPort = ServiceProcess.FreePort();
        // The content root defaults to the working directory, the repository when run by ./ns, and the configuration's
        // file watcher then follows every write under it (PostgreSQL's and RabbitMQ's data in .local/): about 1 % of the
        // machine's CPU at the maximum rate, taken from the stack being measured (bench/README.md). This host reads no
        // configuration file, so it watches nothing.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory, Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.WebHost.UseUrls($"http://127.0.0.1:{webhookPort}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        Receivers? receivers = null;
        app.Run(async context =>
        {
            if (context.Request.Path == "/callbacks")
            {
                if (Guid.TryParse(context.Request.Headers["X-NS-Event-Id"], out var eventId)) receivers!.Callbacks.AddOrUpdate(eventId, 1, (_, n) => n + 1);
                Interlocked.Increment(ref receivers!._callbackTotal);
                Interlocked.Exchange(ref receivers._lastCallbackAt, Stopwatch.GetTimestamp());
                if (receivers.CallbackDelay > TimeSpan.Zero) await Task.Delay(receivers.CallbackDelay);
                context.Response.StatusCode = 204;
                return;
            }
            if (Guid.TryParse(context.Request.Headers["X-NS-Job"], out var job)) receivers!.Record(job);
            context.Response.StatusCode = 204;
        });
        await app.StartAsync();

        var smtpPort = ServiceProcess.FreePort();
        var options = new SmtpServerOptionsBuilder().ServerName("bench").Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, smtpPort))).Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        var store = new CountingStore();
        services.Add(store);
        services.Add(new NoDelayListenerFactory());
        var cts = new CancellationTokenSource();
        var smtp = new SmtpServer.SmtpServer(options, services).StartAsync(cts.Token);
        receivers = new Receivers(app, webhookPort, smtpPort, smtp, cts);
        store.Owner = receivers;
        return receivers;
    }

    private void Record(Guid job)
    {
        Count.AddOrUpdate(job, 1, (_, n) => n + 1);
        FirstAt.TryAdd(job, Stopwatch.GetTimestamp());
    }

    /// <summary>
    /// SmtpServer's own listener leaves Nagle's algorithm on, and it writes each reply on its own. MailKit pipelines MAIL
    /// FROM and RCPT TO, so the second reply waited for the client's delayed ACK of the first: 40-45 ms on every email
    /// (strace of the email worker, bench/README.md "The bench's SMTP server held every second reply"). Servers such as
    /// Postfix send the replies to a pipelined group together; a reply sent at once stands in for that here.
    /// </summary>
    private sealed class NoDelayListenerFactory : IEndpointListenerFactory
    {
        public IEndpointListener CreateListener(IEndpointDefinition endpoint)
        {
            var listener = new TcpListener(endpoint.Endpoint);
            listener.Start();
            return new Listener(listener);
        }

        private sealed class Listener(TcpListener listener) : IEndpointListener
        {
            public async Task<ISecurableDuplexPipe> GetPipeAsync(ISessionContext context, CancellationToken cancellationToken)
            {
                var client = await listener.AcceptTcpClientAsync(cancellationToken);
                client.NoDelay = true;
                context.Properties.Add(EndpointListener.LocalEndPointKey, client.Client.LocalEndPoint);
                context.Properties.Add(EndpointListener.RemoteEndPointKey, client.Client.RemoteEndPoint);
                return new PlainPipe(client);
            }

            public void Dispose() => listener.Stop();
        }

        /// <summary>The bench's server offers no STARTTLS, so its pipe is the plain stream (SmtpServer's own is internal).</summary>
        private sealed class PlainPipe(TcpClient client) : ISecurableDuplexPipe
        {
            private readonly NetworkStream _stream = client.GetStream();
            private PipeReader? _input;
            private PipeWriter? _output;

            public PipeReader Input => _input ??= PipeReader.Create(_stream);
            public PipeWriter Output => _output ??= PipeWriter.Create(_stream);
            public bool IsSecure => false;
            public SslProtocols SslProtocol => SslProtocols.None;

            public Task UpgradeAsync(X509Certificate certificate, SslProtocols protocols, CancellationToken cancellationToken) =>
                throw new NotSupportedException("The bench's SMTP server has no TLS.");

            public void Dispose()
            {
                _stream.Dispose();
                client.Dispose();
            }
        }
    }

    private sealed class CountingStore : MessageStore
    {
        public Receivers? Owner { get; set; }

        public override Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken ct)
        {
            // The job id travels in the X-Notification-Job header; an Apprise mail has none and counts under Guid.Empty.
            var text = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
            var at = text.IndexOf("X-Notification-Job: ", StringComparison.Ordinal);
            Owner!.Record(at >= 0 && Guid.TryParse(text.AsSpan(at + 20, 36), out var job) ? job : Guid.Empty);
            return Task.FromResult(SmtpResponse.Ok);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _smtp; } catch (OperationCanceledException) { }
        await _http.StopAsync();
        await _http.DisposeAsync();
    }
}
