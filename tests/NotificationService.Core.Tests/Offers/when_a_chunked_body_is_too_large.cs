using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// The in-process test server has no Kestrel, and Kestrel itself throws when a chunked body passes the limit, so this
/// runs the core's body-limit step in a real Kestrel on a loopback port with the core's limit and exception handler.
/// </summary>
public sealed class when_a_chunked_body_is_too_large
{
    [Fact]
    public async Task real_kestrel_answers_413_with_a_problem_not_500()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = RequestLimits.ServerMaxBodyBytes).UseUrls("http://127.0.0.1:0");
        builder.Services.AddProblemDetails();
        await using var app = builder.Build();
        app.UseExceptionHandler();
        app.UseBodySizeLimit();
        app.MapPost("/v1/offers", async (HttpContext context) =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            return Results.Accepted();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using var http = new HttpClient { BaseAddress = new Uri(address) };
        // A stream of unknown length is sent chunked, with no Content-Length to refuse up front.
        using var content = new StreamContent(new UnknownLengthStream(new byte[1_200_000]));
        content.Headers.ContentType = new("application/json");
        using var response = await http.PostAsync("/v1/offers", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("traceId", out _), problem.ToString());

        using var small = new StreamContent(new UnknownLengthStream(new byte[1000]));
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync("/v1/offers", small)).StatusCode);
        await app.StopAsync();
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("-1")]
    [InlineData("ffffffffffffffffffff")] // overflows: Kestrel throws an IOException here, not a BadHttpRequestException
    public async Task real_kestrel_answers_a_broken_chunk_size_with_400_not_500(string size)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = RequestLimits.ServerMaxBodyBytes).UseUrls("http://127.0.0.1:0");
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<MalformedRequestHandler>();
        await using var app = builder.Build();
        app.UseExceptionHandler();
        app.UseBodySizeLimit();
        app.MapPost("/v1/offers", () => Results.Accepted());
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(address.Host, address.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            $"POST /v1/offers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\n{{}}\r\n0\r\n\r\n"));
        var response = await new StreamReader(stream).ReadLineAsync();

        Assert.StartsWith("HTTP/1.1 400", response);
        await app.StopAsync();
    }

    /// <summary>
    /// The body is read into pooled arrays that grow from 4 KB and are copied on the way: every byte must reach the
    /// endpoint in order, at each growth step and up to exactly the limit, and one byte more is refused.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(300_000)]
    [InlineData(1_048_575)] // Kestrel alone, at the limit, refused this one
    [InlineData((int)RequestLimits.MaxBodyBytes)]
    public async Task real_kestrel_hands_the_endpoint_every_byte_of_a_chunked_body_up_to_the_limit(int size)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = RequestLimits.ServerMaxBodyBytes).UseUrls("http://127.0.0.1:0");
        builder.Services.AddProblemDetails();
        await using var app = builder.Build();
        app.UseExceptionHandler();
        app.UseBodySizeLimit();
        app.MapPost("/v1/offers", async (HttpContext context) =>
        {
            var received = new MemoryStream();
            await context.Request.Body.CopyToAsync(received);
            return Results.Text(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(received.ToArray())));
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        var body = new byte[size + 1];
        new Random(size).NextBytes(body);

        using var exact = new StreamContent(new UnknownLengthStream(body[..size]));
        using var response = await http.PostAsync("/v1/offers", exact);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body.AsSpan(0, size))), await response.Content.ReadAsStringAsync());

        if (size == RequestLimits.MaxBodyBytes)
        {
            using var over = new StreamContent(new UnknownLengthStream(body));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await http.PostAsync("/v1/offers", over)).StatusCode);
        }
        await app.StopAsync();
    }

    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => base.Position; set => throw new NotSupportedException(); }
    }
}
