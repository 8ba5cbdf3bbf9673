using System.Buffers;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// A request body read whole into an array from the shared pool, cleared and given back when the request ends. The body
/// checks need the whole body before an endpoint runs, and a new buffer for each request was half of what the core
/// allocated per offer sent chunked (as .NET's <c>JsonContent</c>, and so this project's client, sends every body).
/// </summary>
public sealed class PooledBody : IDisposable
{
    private byte[] _array = [];
    private int _length;

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
        // A known length is read into an array with room for it and the end of the body (a full array is grown before
        // the read that finds the end); one of unknown length starts small, as most bodies are.
        body._array = ArrayPool<byte>.Shared.Rent((int)Math.Min((request.ContentLength ?? 4095) + 1, limit + 1));
        while (true)
        {
            if (body._length == body._array.Length)
            {
                // An array of limit + 1 is the last one: a body that fills it is over the limit. (The pool rounds that
                // up to 2 MiB, so the read that finds it may take more; the check is on the length read.)
                var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * body._array.Length, limit + 1));
                body._array.AsSpan(0, body._length).CopyTo(larger);
                Return(body._array, body._length);
                body._array = larger;
            }
            var read = await request.Body.ReadAsync(body._array.AsMemory(body._length), context.RequestAborted);
            if (read == 0) break;
            body._length += read;
            if (body._length > limit) return false;
        }
        request.Body = new MemoryStream(body._array, 0, body._length, writable: false, publiclyVisible: true);
        return true;
    }

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, []);
        if (array.Length > 0) Return(array, _length);
    }

    /// <summary>Cleared first: the pool hands the array to any other code, and a body holds recipients' data.</summary>
    private static void Return(byte[] array, int used)
    {
        array.AsSpan(0, Math.Min(used, array.Length)).Clear();
        ArrayPool<byte>.Shared.Return(array);
    }
}
