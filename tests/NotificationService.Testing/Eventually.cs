namespace NotificationService.Testing;

/// <summary>
/// Bounded waits for outcomes no message marks (a database state after a commit, a worker in another process, a peer's
/// request): they poll until true or fail with what was last seen, never time a result. The first probes come quickly
/// (most outcomes in process take milliseconds), then every 100 ms.
/// </summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var last = await probe();
        for (var pause = 10; !done(last); pause = Math.Min(2 * pause, 100))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Gave up waiting for {what ?? "the condition"}; last seen: {last}");
            await Task.Delay(pause);
            last = await probe();
        }
        return last;
    }

    public static Task Until(Func<bool> condition, TimeSpan? timeout = null, string? what = null) =>
        Until(() => Task.FromResult(condition()), ok => ok, timeout, what);
}
