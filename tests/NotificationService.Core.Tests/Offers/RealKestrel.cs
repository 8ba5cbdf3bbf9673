using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// The in-process test server has no Kestrel, and Kestrel counts and frames a body itself, so the body tests run the
/// core's body steps in a real Kestrel on a loopback port with the core's limit and exception handler.
/// </summary>
internal static class RealKestrel
{
    /// <summary>
    /// The core's body steps (the size limit, then the JSON check) and exception handling, with one endpoint; the JSON
    /// check reads the body if the endpoint declares a <paramref name="body"/> type, as the core's endpoints do.
    /// </summary>
    public static async Task<(WebApplication App, Uri Address)> StartAsync(Delegate offers, Type? body = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = RequestLimits.MaxBodyBytes).UseUrls("http://127.0.0.1:0");
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<MalformedRequestHandler>();
        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseBodySizeLimit();
        app.UseJsonBodyChecks();
        var endpoint = app.MapPost("/v1/offers", offers);
        if (body is not null) endpoint.Accepts(body, "application/json");
        await app.StartAsync();
        return (app, new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));
    }

    /// <summary>A stream HttpClient cannot measure, so it sends it chunked, in chunks of at most <paramref name="chunk"/> bytes.</summary>
    public sealed class UnknownLengthStream(byte[] data, int chunk = int.MaxValue) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));
        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            base.ReadAsync(buffer, offset, Math.Min(count, chunk), cancellationToken);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => base.Position; set => throw new NotSupportedException(); }
    }
}
