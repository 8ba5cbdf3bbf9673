using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NotificationService.Testing;

public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At);

public sealed record PeerReply(int Status, string Body, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>
/// A real HTTP server on 127.0.0.1 standing in for a provider (Telegram's Bot API, a Twilio-shaped SMS gateway, a webhook
/// receiver): it records every request and answers with <see cref="Reply"/>, or with scripted replies queued first.
/// </summary>
public sealed class HttpPeer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<PeerReply> _scripted = new();

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();
    public Func<RecordedRequest, PeerReply> Reply { get; set; } = _ => new PeerReply(200, "{}");
    /// <summary>Awaited before answering: a slow provider, or one that holds a request until the test lets it go.</summary>
    public Func<RecordedRequest, CancellationToken, Task>? BeforeReply { get; set; }
    /// <summary>Awaited before the request body is read: with the peer's small buffers the client's upload stalls mid-body.</summary>
    public Func<CancellationToken, Task>? BeforeReadingBody { get; set; }
    /// <summary>Requests whose body never arrived in full (the client aborted the upload); they are not in <see cref="Requests"/>.</summary>
    public int IncompleteRequests => _incomplete;
    private int _incomplete;
    public string BaseUrl { get; }

    private HttpPeer(WebApplication app, string baseUrl) => (_app, BaseUrl) = (app, baseUrl);

    public static async Task<HttpPeer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // Small, so a peer that has not read the body yet pushes back on the client's upload (a default 1 MiB would not).
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBufferSize = 64 * 1024);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        HttpPeer? peer = null;
        app.Run(async context => await peer!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        peer = new HttpPeer(app, address);
        return peer;
    }

    public void ReplyNextWith(PeerReply reply) => _scripted.Enqueue(reply);

    private async Task HandleAsync(HttpContext context)
    {
        string body;
        try
        {
            if (BeforeReadingBody is { } hold) await hold(context.RequestAborted);
            body = await new StreamReader(context.Request.Body).ReadToEndAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or BadHttpRequestException)
        {
            Interlocked.Increment(ref _incomplete); // the client went away mid-request: nothing was received
            return;
        }
        var request = new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString,
            context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, DateTimeOffset.UtcNow);
        Requests.Enqueue(request);
        if (BeforeReply is { } wait)
        {
            try { await wait(request, context.RequestAborted); }
            catch (OperationCanceledException) { return; } // the caller went away (a killed worker)
        }
        var reply = _scripted.TryDequeue(out var scripted) ? scripted : Reply(request);
        context.Response.StatusCode = reply.Status;
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>()) context.Response.Headers[name] = value;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(reply.Body);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
