using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace NotificationService.Core.Auth;

/// <summary>
/// Failed admin keys per client address in a one-minute window (<c>Admin:FailedKeysPerMinute</c>, 10 by default), one
/// count for both ways to present one: <c>Authorization: Bearer</c> and the console's sign-in form. Past the limit every
/// admin key from that address is refused with 429 until the window ends, the right key too, so neither can be used to
/// try keys quickly, nor to tell a right key from a wrong one while refusing. An IPv6 client is counted by its /64, the
/// block one host is usually given. A request without a client IP address (an in-process test server, or a Unix
/// socket without forwarded headers) is not counted.
/// </summary>
public sealed class AdminKeyThrottle(IConfiguration configuration, TimeProvider clock)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxAddresses = 10_000; // bounds the memory a scan from many addresses can take
    private readonly int _limit = Math.Max(1, configuration.GetValue("Admin:FailedKeysPerMinute", 10));
    private readonly ConcurrentDictionary<string, (DateTimeOffset Start, int Attempts)> _byAddress = new();

    private static string Of(IPAddress? address)
    {
        if (address is null) return "unknown";
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4().ToString();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>
    /// Counts an attempt before the key is checked, so a burst of parallel guesses cannot all pass before the first
    /// failure is counted: null when the address may try (then <see cref="Succeeded"/> takes the count back if the key
    /// was right), or how long it must wait.
    /// </summary>
    public TimeSpan? TryAttempt(IPAddress? address)
    {
        // No address (an in-process test server, a Unix socket): counted under one shared name, every such caller would
        // lock out all the others.
        if (address is null) return null;
        var now = clock.GetUtcNow();
        if (_byAddress.Count >= MaxAddresses)
            foreach (var (key, value) in _byAddress)
                if (now - value.Start >= Window) _byAddress.TryRemove(key, out _);
        var entry = _byAddress.AddOrUpdate(Of(address), (now, 1), (_, e) => now - e.Start >= Window ? (now, 1) : (e.Start, e.Attempts + 1));
        return entry.Attempts <= _limit ? null : entry.Start + Window - now;
    }

    /// <summary>The key was right: its attempt is not a failure.</summary>
    public void Succeeded(IPAddress? address)
    {
        if (address is not null) _byAddress.AddOrUpdate(Of(address), (clock.GetUtcNow(), 0), (_, e) => (e.Start, Math.Max(0, e.Attempts - 1)));
    }
}
