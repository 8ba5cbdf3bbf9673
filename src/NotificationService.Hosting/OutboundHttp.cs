using System.Net;
using System.Net.Sockets;

namespace NotificationService.Hosting;

/// <summary>A request this worker refused to make or finish; the same request will be refused again, so it is permanent.</summary>
public sealed class OutboundRequestRefusedException(string reason) : Exception(reason);

/// <summary>
/// The one HTTP client shape for every HTTP channel (webhook, SMS, Telegram, any later one). The URL is the admin's, but
/// what answers it is not trusted: redirects are never followed (a 307 would re-send a signed POST to another host),
/// loopback, link-local and private addresses are refused at connect time unless the adapter allows them (so a DNS
/// name that resolves, or later re-resolves, to an internal address is caught too), and a response body is read only
/// up to <see cref="MaxResponseBytes"/>.
/// </summary>
public static class OutboundHttp
{
    public const int MaxResponseBytes = 64 * 1024;

    public static HttpClient CreateClient(bool allowPrivateNetwork, TimeSpan timeout) =>
        new(new RefuseRedirectsAndCapBodies(new SocketsHttpHandler
        {
            // Connections are recycled so DNS changes are seen (and checked again when the next connection is made).
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
            // A proxy would make the connect-time check see the proxy's address instead of the destination's.
            UseProxy = false,
            ConnectCallback = (context, cancellation) => ConnectAsync(context.DnsEndPoint, allowPrivateNetwork, cancellation),
        }))
        {
            Timeout = timeout,
        };

    private static async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, bool allowPrivateNetwork, CancellationToken cancellation)
    {
        var addresses = IPAddress.TryParse(endPoint.Host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endPoint.Host, cancellation);
        if (addresses.Length == 0) throw new SocketException((int)SocketError.HostNotFound);
        // Every address is checked, and the socket connects only to the checked ones, so a second lookup cannot swap them.
        if (!allowPrivateNetwork && addresses.FirstOrDefault(IsPrivate) is { } refused)
            throw new OutboundRequestRefusedException(
                $"{endPoint.Host} resolves to {refused}, a loopback, link-local or private address; the adapter's config must set allowPrivateNetwork to reach it.");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endPoint.Port, cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loopback, link-local, private (RFC 1918, unique local), shared (CGNAT), benchmarking, unspecified and multicast
    /// addresses, and Teredo; an IPv6 address that embeds an IPv4 one (NAT64, 6to4, IPv4-compatible) is judged by that.
    /// </summary>
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return true;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast || address.IsIPv6Teredo)
                return true;
            // IPv6 forms that carry an IPv4 address, which is what the packet finally reaches: NAT64 (64:ff9b::/96),
            // 6to4 (2002::/16) and the deprecated IPv4-compatible ::a.b.c.d.
            var v6 = address.GetAddressBytes();
            if (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b && v6[4..12].All(x => x == 0)) return IsPrivate(new IPAddress(v6[12..]));
            if (v6[0] == 0x20 && v6[1] == 0x02) return IsPrivate(new IPAddress(v6[2..6]));
            if (v6[..12].All(x => x == 0)) return IsPrivate(new IPAddress(v6[12..]));
            return false;
        }
        var b = address.GetAddressBytes();
        return b[0] switch
        {
            0 or 10 or 127 => true,
            100 => b[1] is >= 64 and < 128,
            169 => b[1] == 254,
            172 => b[1] is >= 16 and < 32,
            192 => b[1] == 168 || b[1] == 0 && b[2] == 0, // 192.0.0.0/24: IETF protocol assignments
            198 => b[1] is 18 or 19, // 198.18.0.0/15: network device benchmarking
            >= 224 => true,
            _ => false,
        };
    }

    /// <summary>Turns any 3xx into a refusal naming its Location, and cuts every response body off at the cap.</summary>
    private sealed class RefuseRedirectsAndCapBodies(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if ((int)response.StatusCode is >= 300 and < 400)
            {
                var (status, location) = ((int)response.StatusCode, response.Headers.Location?.ToString() ?? "(no Location header)");
                response.Dispose();
                throw new OutboundRequestRefusedException($"HTTP {status} redirect to {location} was not followed.");
            }
            var capped = new StreamContent(new CappedStream(await response.Content.ReadAsStreamAsync(cancellationToken), MaxResponseBytes));
            foreach (var header in response.Content.Headers)
                if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    capped.Headers.TryAddWithoutValidation(header.Key, header.Value);
            response.Content = capped;
            return response;
        }
    }

    /// <summary>Reads at most <c>limit</c> bytes of the inner stream, then reports its end.</summary>
    private sealed class CappedStream(Stream inner, long limit) : Stream
    {
        private long _left = limit;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_left <= 0) return 0;
            var read = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken);
            _left -= read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_left <= 0) return 0;
            var read = inner.Read(buffer, offset, (int)Math.Min(count, _left));
            _left -= read;
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
