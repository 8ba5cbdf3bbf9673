using System.Buffers;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// A request body read whole into an array from the shared pool, which goes back to the pool when the request ends. The
/// body checks need the whole body before an endpoint runs; reading it into a fresh 80 KB chunk and a growing
/// <see cref="MemoryStream"/> was 92 % of what the core allocated per one-target offer sent chunked (as .NET's
/// <c>JsonContent</c>, and so this project's client, sends every body), and with it most of the core's collections.
/// </summary>
public sealed class PooledBody : IDisposable
{
    private byte[] _array = [];

    private PooledBody() { }

    /// <summary>
    /// Reads the body to its end, or until it is longer than <paramref name="limit"/> (then false: the body is partly
    /// read), and makes it the request's body as a <see cref="MemoryStream"/> whose buffer is the body.
    /// </summary>
    public static async Task<bool> ReadAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        var body = new PooledBody();
        context.Response.RegisterForDispose(body);
        // A known length is read into an array of that size; one of unknown length starts small (most bodies are).
        body._array = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(request.ContentLength ?? 4096, 1, limit + 1));
        var length = 0;
        while (true)
        {
            if (length == body._array.Length)
            {
                // One byte past the limit is enough to know a body is over it.
                var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * body._array.Length, limit + 1));
                body._array.AsSpan(0, length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(body._array);
                body._array = larger;
            }
            var read = await request.Body.ReadAsync(body._array.AsMemory(length), context.RequestAborted);
            if (read == 0) break;
            length += read;
            if (length > limit) return false;
        }
        request.Body = new MemoryStream(body._array, 0, length, writable: false, publiclyVisible: true);
        return true;
    }

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, []);
        if (array.Length > 0) ArrayPool<byte>.Shared.Return(array);
    }
}
