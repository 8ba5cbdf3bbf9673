using System.Collections.Concurrent;
using System.Net;

namespace NotificationService.Core.Console;

/// <summary>
/// Failed console sign-ins per client address in a one-minute window (<c>Console:SignInFailuresPerMinute</c>, 10 by
/// default): past it every sign-in from that address is refused with 429 until the window ends, the right key too, so
/// the endpoint cannot be used to try keys quickly, nor tell a right key from a wrong one while refusing.
/// </summary>
public sealed class ConsoleSignInThrottle(IConfiguration configuration, TimeProvider clock)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxAddresses = 10_000; // bounds the memory a scan from many addresses can take
    private readonly int _limit = Math.Max(1, configuration.GetValue("Console:SignInFailuresPerMinute", 10));
    private readonly ConcurrentDictionary<string, (DateTimeOffset Start, int Failures)> _byAddress = new();

    private static string Of(IPAddress? address) => address?.ToString() ?? "unknown";

    /// <summary>How long the address must wait, or null when it may try.</summary>
    public TimeSpan? Wait(IPAddress? address)
    {
        var now = clock.GetUtcNow();
        if (!_byAddress.TryGetValue(Of(address), out var entry) || now - entry.Start >= Window || entry.Failures < _limit) return null;
        return entry.Start + Window - now;
    }

    public void Failed(IPAddress? address)
    {
        var now = clock.GetUtcNow();
        if (_byAddress.Count >= MaxAddresses)
            foreach (var (key, value) in _byAddress)
                if (now - value.Start >= Window) _byAddress.TryRemove(key, out _);
        _byAddress.AddOrUpdate(Of(address), (now, 1), (_, e) => now - e.Start >= Window ? (now, 1) : (e.Start, e.Failures + 1));
    }
}
