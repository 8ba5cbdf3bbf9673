using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NotificationService.Bench;

/// <summary>
/// One request as the bytes that go on the wire, so it can carry what HttpClient refuses to send (NUL and raw bytes in
/// the request line and headers, wrong framing). Segments after the first are sent <see cref="Gap"/> apart: a slow client.
/// <see cref="HalfClose"/> ends the sending side afterwards, so a body shorter than announced ends instead of waiting.
/// </summary>
public sealed record RawRequest(string Kind, IReadOnlyList<byte[]> Segments, TimeSpan Gap = default, bool HalfClose = false)
{
    public int Length => Segments.Sum(s => s.Length);

    /// <summary>The request as printable text (control and non-ASCII bytes escaped), cut at <paramref name="max"/> characters.</summary>
    public string Show(int max = 400)
    {
        var text = new StringBuilder();
        foreach (var b in Segments.SelectMany(s => s))
        {
            if (text.Length >= max) { text.Append($"... ({Length} bytes)"); break; }
            text.Append(b switch { (byte)'\r' => "\\r", (byte)'\n' => "\\n", < 0x20 or >= 0x7f => $"\\x{b:x2}", (byte)'\\' => "\\\\", _ => ((char)b).ToString() });
        }
        return text.ToString();
    }
}

/// <summary>The status (0 when the server closed or timed out without one) and the start of what came back.</summary>
public sealed record RawResponse(int Status, string Text)
{
    public string StatusClass => Status == 0 ? "no response" : $"{Status / 100}xx";

    /// <summary>The status and the body (a chunked body's first chunk-size line dropped), or what came instead of a response.</summary>
    public string Summary()
    {
        var end = Text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (Status == 0 || end < 0) return Text.Length == 0 ? "(connection closed, nothing received)" : Text;
        var body = Text[(end + 4)..];
        if (Text[..end].Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) && body.IndexOf("\r\n", StringComparison.Ordinal) is var line and >= 0)
            body = body[(line + 2)..].Replace("\r\n0\r\n\r\n", "");
        return $"{Status} {body}";
    }
}

/// <summary>HTTP/1.1 over a plain socket to the core on loopback, one connection per request.</summary>
public static class RawHttp
{
    private const int MaxResponseBytes = 64 * 1024;

    public static async Task<RawResponse> SendAsync(int port, RawRequest request, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = new CancellationTokenSource(timeout);
        try { await socket.ConnectAsync(IPAddress.Loopback, port, cts.Token); }
        catch (Exception e) when (e is SocketException or OperationCanceledException) { return new RawResponse(0, $"connect failed: {e.Message}"); }

        // Read while sending: the server may answer (413, 400) before the body is complete and close the connection.
        var reading = ReadAsync(socket, cts.Token);
        try
        {
            for (var i = 0; i < request.Segments.Count; i++)
            {
                if (i > 0 && request.Gap > TimeSpan.Zero) await Task.Delay(request.Gap, cts.Token);
                if (reading.IsCompleted) break;
                await socket.SendAsync(request.Segments[i], SocketFlags.None, cts.Token);
            }
            if (request.HalfClose) socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { } // the server stopped listening: its answer, if any, is being read
        return await reading;
    }

    private static async Task<RawResponse> ReadAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[MaxResponseBytes];
        var length = 0;
        try
        {
            while (length < buffer.Length)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct);
                if (read == 0) break;
                length += read;
                if (IsComplete(buffer.AsSpan(0, length))) break;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException) { } // reset or timed out: keep what came
        var text = Encoding.Latin1.GetString(buffer, 0, length);
        var status = text.StartsWith("HTTP/1.", StringComparison.Ordinal) && text.Length >= 12 && int.TryParse(text.AsSpan(9, 3), out var s) ? s : 0;
        return new RawResponse(status, text);
    }

    /// <summary>A whole response: headers and a body of the declared length, or a chunked body's last chunk.</summary>
    private static bool IsComplete(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0) return false;
        var head = Encoding.Latin1.GetString(data[..end]);
        var body = data.Length - end - 4;
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) && int.TryParse(line.AsSpan(15).Trim(), out var declared)) return body >= declared;
            if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase)) return data.EndsWith("0\r\n\r\n"u8);
        }
        return false; // no framing: the body ends when the server closes
    }
}
