using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace NotificationService.Client;

/// <summary>
/// Checks the <c>X-NS-Signature</c> header of a callback (and of the webhook adapter's requests, signed the same way):
/// <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "&lt;t&gt;.&lt;body&gt;" with the secret&gt;</c>. Check it over the
/// body's exact bytes as received, before parsing them.
/// </summary>
public static class CallbackSignature
{
    /// <summary>The header that carries the signature.</summary>
    public const string HeaderName = "X-NS-Signature";

    /// <summary>The header that carries the event's id (the same as the body's <c>id</c>).</summary>
    public const string EventIdHeaderName = "X-NS-Event-Id";

    /// <summary>A sensible tolerance: how far the signing time may be from now, either way (clock skew plus transit).</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>
    /// True when <paramref name="header"/> is well formed, its time is within <paramref name="tolerance"/> of
    /// <paramref name="now"/> (default: the current time) and one of its <c>v1</c> signatures matches the body.
    /// False, never an exception, for anything else: a missing or malformed header, a stale or future time, a wrong signature.
    /// </summary>
    /// <param name="body">the body exactly as received (UTF-8)</param>
    public static bool Verify(string header, string body, string secret, TimeSpan tolerance, DateTimeOffset? now = null) =>
        body is not null && Verify(header, Encoding.UTF8.GetBytes(body), secret, tolerance, now);

    /// <summary>The same check over the body's raw bytes (no HttpRequest needed: read the body into a byte array first).</summary>
    public static bool Verify(string header, ReadOnlySpan<byte> body, string secret, TimeSpan tolerance, DateTimeOffset? now = null)
    {
        if (string.IsNullOrEmpty(header) || string.IsNullOrEmpty(secret) || tolerance < TimeSpan.Zero) return false;
        if (!TryParse(header, out var timeText, out var timestamp, out var signatures)) return false;

        var at = DateTimeOffset.FromUnixTimeSeconds(timestamp);
        if ((now ?? DateTimeOffset.UtcNow) - at is var age && (age > tolerance || age < -tolerance)) return false;

        // The signed text is "<t as sent>.<body>"; the digits of t are ASCII, so its bytes are its characters.
        var prefix = Encoding.ASCII.GetBytes(timeText + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);

        var matched = false;
        foreach (var signature in signatures)
            // Constant time: how much of a guess matched must not show in how long the check takes.
            matched |= signature.Length == expected.Length && CryptographicOperations.FixedTimeEquals(signature, expected);
        return matched;
    }

    /// <summary>The header a sender with <paramref name="secret"/> puts on <paramref name="body"/> at <paramref name="at"/> (for tests of a receiver).</summary>
    public static string Sign(string body, string secret, DateTimeOffset at)
    {
        var t = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{body}"));
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }

    /// <summary>
    /// Reads <c>t=...,v1=...</c>: exactly one <c>t</c> (unix seconds, digits only), at least one <c>v1</c> (64 hex
    /// digits; several are allowed, for a secret being rotated), other keys ignored (later schemes).
    /// </summary>
    // 9999-12-31T23:59:59Z: past it DateTimeOffset cannot hold the time.
    private static readonly long MaxUnixSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    private static bool TryParse(string header, out string timeText, out long timestamp, out List<byte[]> signatures)
    {
        timeText = "";
        timestamp = 0;
        signatures = [];
        var seenTime = false;
        foreach (var part in header.Split(','))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) return false;
            var key = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            switch (key)
            {
                case "t":
                    if (seenTime || value.Length is 0 or > 12 || !value.All(char.IsAsciiDigit)) return false;
                    timestamp = long.Parse(value, CultureInfo.InvariantCulture);
                    if (timestamp > MaxUnixSeconds) return false;
                    timeText = value;
                    seenTime = true;
                    break;
                case "v1":
                    if (value.Length != 64 || !value.All(char.IsAsciiHexDigit)) return false;
                    signatures.Add(Convert.FromHexString(value));
                    break;
            }
        }
        return seenTime && signatures.Count > 0;
    }
}
