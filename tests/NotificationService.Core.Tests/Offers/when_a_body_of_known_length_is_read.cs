using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// A body that states its length is read whole by the JSON check into an array from the shared pool, given back (and
/// cleared) when the request ends; the endpoint then reads the body from that array. So every byte must reach the
/// endpoint, at the pool's size steps and up to exactly the limit, and an array must never serve two requests at once:
/// other tenants' requests run beside each other on the same pool.
/// </summary>
public sealed class when_a_body_of_known_length_is_read
{
    private sealed record Note(string Text);

    /// <summary>
    /// The endpoint reads the body after an await, as the core's endpoints may (their middleware loads the caller first),
    /// so an array given back too early has time to serve another request.
    /// </summary>
    private static Task<(Microsoft.AspNetCore.Builder.WebApplication App, Uri Address)> StartAsync() =>
        RealKestrel.StartAsync(async (HttpContext context) =>
        {
            await Task.Delay(Random.Shared.Next(3));
            var note = await context.Request.ReadFromJsonAsync<Note>();
            return Results.Text(Hash(note!.Text));
        }, typeof(Note));

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>A JSON body of exactly <paramref name="size"/> bytes: one string field of random letters.</summary>
    private static (byte[] Body, string Text) NoteOf(int size, int seed)
    {
        var random = new Random(seed);
        var text = new string(Enumerable.Range(0, size - """{"text":""}""".Length).Select(_ => (char)('a' + random.Next(26))).ToArray());
        return (Encoding.UTF8.GetBytes($$"""{"text":"{{text}}"}"""), text);
    }

    private static HttpContent Json(byte[] body, bool chunked)
    {
        HttpContent content = chunked ? new StreamContent(new RealKestrel.UnknownLengthStream(body, 8192)) : new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        return content;
    }

    [Theory]
    [InlineData(12)] // {"text":""}
    [InlineData(4095)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(300_000)]
    [InlineData((int)RequestLimits.MaxBodyBytes)]
    public async Task every_byte_reaches_the_endpoint(int size)
    {
        var (app, address) = await StartAsync();
        await using var running = app;
        using var http = new HttpClient { BaseAddress = address };
        var (body, text) = NoteOf(size, size);
        Assert.Equal(size, body.Length);

        using var response = await http.PostAsync("/v1/offers", Json(body, chunked: false));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(size, response.RequestMessage!.Content!.Headers.ContentLength);
        Assert.Equal(Hash(text), await response.Content.ReadAsStringAsync());
        await app.StopAsync();
    }

    [Fact]
    public async Task one_byte_over_the_limit_is_refused_before_it_is_read()
    {
        var (app, address) = await StartAsync();
        await using var running = app;
        using var http = new HttpClient { BaseAddress = address };

        using var response = await http.PostAsync("/v1/offers", Json(NoteOf((int)RequestLimits.MaxBodyBytes + 1, 1).Body, chunked: false));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("\"status\":413", await response.Content.ReadAsStringAsync());
        await app.StopAsync();
    }

    [Fact]
    public async Task concurrent_requests_each_read_their_own_body()
    {
        var (app, address) = await StartAsync();
        await using var running = app;
        using var http = new HttpClient { BaseAddress = address };
        // Sizes across the pool's buckets, half of them chunked, all 400 at once, so arrays are handed back and rented
        // again while other requests still read theirs.
        var notes = Enumerable.Range(0, 400).Select(i => (Note: NoteOf(12 + new Random(i).Next(200_000), 1000 + i), Chunked: i % 2 == 0)).ToArray();

        var answers = await Task.WhenAll(notes.Select(async n =>
        {
            using var response = await http.PostAsync("/v1/offers", Json(n.Note.Body, n.Chunked));
            return (response.StatusCode, Hash: await response.Content.ReadAsStringAsync());
        }));

        for (var i = 0; i < notes.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].StatusCode);
            Assert.Equal(Hash(notes[i].Note.Text), answers[i].Hash);
        }
        await app.StopAsync();
    }
}
