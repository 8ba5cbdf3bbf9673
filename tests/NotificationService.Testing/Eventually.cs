namespace NotificationService.Testing;

/// <summary>Bounded waits for asynchronous outcomes: they poll until true or fail with what was last seen, never time a result.</summary>
public static class Eventually
{
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Gave up waiting for {what ?? "the condition"}; last seen: {last}");
            await Task.Delay(100);
            last = await probe();
        }
        return last;
    }

    public static Task Until(Func<bool> condition, TimeSpan? timeout = null, string? what = null) =>
        Until(() => Task.FromResult(condition()), ok => ok, timeout, what);
}
