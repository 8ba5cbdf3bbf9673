using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// The in-process test server has no Kestrel, and Kestrel counts and frames a chunked body itself, so these run in a
/// real Kestrel (<see cref="RealKestrel"/>).
/// </summary>
public sealed class when_a_chunked_body_is_too_large
{
    [Fact]
    public async Task real_kestrel_answers_413_with_a_problem_not_500()
    {
        var (app, address) = await RealKestrel.StartAsync(async (HttpContext context) =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null);
            return Results.Accepted();
        });
        await using var running = app;

        using var http = new HttpClient { BaseAddress = address };
        // A stream of unknown length is sent chunked, with no Content-Length to refuse up front.
        using var content = new StreamContent(new RealKestrel.UnknownLengthStream(new byte[1_200_000]));
        content.Headers.ContentType = new("application/json");
        using var response = await http.PostAsync("/v1/offers", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("traceId", out _), problem.ToString());

        using var small = new StreamContent(new RealKestrel.UnknownLengthStream(new byte[1000]));
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync("/v1/offers", small)).StatusCode);
        await app.StopAsync();
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("-1")]
    [InlineData("ffffffffffffffffffff")] // overflows: Kestrel throws an IOException here, not a BadHttpRequestException
    public async Task real_kestrel_answers_a_broken_chunk_size_with_400_not_500(string size)
    {
        var (app, address) = await RealKestrel.StartAsync(() => Results.Accepted());
        await using var running = app;

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
    /// endpoint in order, at each growth step and up to exactly the limit, however small the chunks (Kestrel counts
    /// their framing against its own limit); one byte more is refused, and the client's next request on the same
    /// connection is answered (the refused body's rest is not read as a request).
    /// </summary>
    [Theory]
    [InlineData(0, 81920)]
    [InlineData(4095, 81920)]
    [InlineData(4096, 81920)]
    [InlineData(4097, 81920)]
    [InlineData(300_000, 81920)]
    [InlineData(1_048_575, 81920)] // Kestrel's limit alone refused this one
    [InlineData((int)RequestLimits.MaxBodyBytes, 81920)]
    [InlineData((int)RequestLimits.MaxBodyBytes, 16)]
    public async Task real_kestrel_hands_the_endpoint_every_byte_of_a_chunked_body_up_to_the_limit(int size, int chunk)
    {
        var (app, address) = await RealKestrel.StartAsync(async (HttpContext context) =>
        {
            var received = new MemoryStream();
            await context.Request.Body.CopyToAsync(received);
            return Results.Text(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(received.ToArray())));
        });
        await using var running = app;
        using var http = new HttpClient { BaseAddress = address };
        var body = new byte[size + 1];
        new Random(size).NextBytes(body);

        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body.AsSpan(0, size)));
        async Task SendExact()
        {
            using var exact = new StreamContent(new RealKestrel.UnknownLengthStream(body[..size], chunk));
            using var response = await http.PostAsync("/v1/offers", exact);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(hash, await response.Content.ReadAsStringAsync());
        }
        await SendExact();

        if (size == RequestLimits.MaxBodyBytes)
        {
            using var over = new StreamContent(new RealKestrel.UnknownLengthStream(body, chunk));
            using var refused = await http.PostAsync("/v1/offers", over);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            // The rest of the refused body is left unread, so the connection must not carry another request.
            Assert.True(refused.Headers.ConnectionClose);
            await SendExact();
        }
        await app.StopAsync();
    }
}
