using System.Collections.Concurrent;

namespace NotificationService.Core.Auth;

/// <summary>
/// Requests refused for their key (401, 403) are counted and logged as one summary line per interval
/// (<c>Auth:RejectedKeysLogSeconds</c>, default 60) instead of a line each: a client or a scanner repeating a bad key
/// cannot grow the log without bound, and the operator still sees that it happens, how often and why.
/// </summary>
public sealed partial class RejectedKeys(ILogger<RejectedKeys> logger, IConfiguration configuration, TimeProvider clock) : BackgroundService
{
    private readonly ConcurrentDictionary<string, long> _byReason = new();
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue("Auth:RejectedKeysLogSeconds", 60.0)));
    private readonly Lock _flushing = new();
    private DateTimeOffset _since = clock.GetUtcNow();

    /// <summary>One refused request; <paramref name="reason"/> is one of a few fixed phrases, never the key.</summary>
    public void Record(string reason) => _byReason.AddOrUpdate(reason, 1, (_, count) => count + 1);

    /// <summary>Logs what was counted since the last summary, if anything.</summary>
    public void Flush()
    {
        lock (_flushing)
        {
            var now = clock.GetUtcNow();
            // TryRemove takes each count whole; a request counted meanwhile starts a new entry for the next summary.
            var reasons = _byReason.Keys.Select(r => (Reason: r, Count: _byReason.TryRemove(r, out var n) ? n : 0)).Where(r => r.Count > 0).ToList();
            if (reasons.Count > 0)
                Summary(logger, reasons.Sum(r => r.Count), (int)Math.Round((now - _since).TotalSeconds),
                    string.Join(", ", reasons.OrderByDescending(r => r.Count).Select(r => $"{r.Reason}: {r.Count}")));
            _since = now;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval, clock);
        try { while (await timer.WaitForNextTickAsync(stoppingToken)) Flush(); }
        catch (OperationCanceledException) { }
        Flush();
    }

    [LoggerMessage(LogLevel.Warning, "{Count} requests refused for their API key in the last {Seconds} s ({Reasons})")]
    private static partial void Summary(ILogger logger, long count, int seconds, string reasons);
}
