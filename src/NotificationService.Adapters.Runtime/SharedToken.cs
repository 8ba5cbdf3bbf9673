namespace NotificationService.Adapters.Runtime;

/// <summary>
/// An access token that one worker's parallel sends share (an OAuth client-credentials token, say): fetched when first
/// needed, kept until shortly before it expires, and fetched again when the provider refuses it. One fetch at a time: a
/// send the provider refused names the token it used, and a new one is fetched only while that one is still current, so
/// sends refused together cause one fetch. A fetch that fails throws, and the next send tries again.
/// </summary>
public sealed class SharedToken(TimeProvider clock)
{
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private volatile Current? _current;

    /// <summary>The current token, or one from <paramref name="fetch"/> (the token and how long it lives) if there is none fit to use.</summary>
    public async Task<string> GetAsync(Func<CancellationToken, Task<(string Value, TimeSpan Lifetime)>> fetch, CancellationToken cancellation, string? refused = null)
    {
        if (Usable(refused) is { } cached) return cached;
        await _fetching.WaitAsync(cancellation);
        try
        {
            if (Usable(refused) is { } fetchedMeanwhile) return fetchedMeanwhile;
            var (value, lifetime) = await fetch(cancellation);
            // Replaced a tenth of its lifetime (at most 5 minutes) early, so a send that starts with it is not refused on the way.
            _current = new Current(value, clock.GetUtcNow() + lifetime - TimeSpan.FromTicks(Math.Min(lifetime.Ticks / 10, TimeSpan.TicksPerMinute * 5)));
            return value;
        }
        finally
        {
            _fetching.Release();
        }
    }

    private string? Usable(string? refused) => _current is { } c && c.Value != refused && c.RefreshAt > clock.GetUtcNow() ? c.Value : null;

    private sealed record Current(string Value, DateTimeOffset RefreshAt);
}
