namespace NotificationService.Core.Tests;

/// <summary>A clock that always reads the same time, for pure endpoint methods that take the time from a <see cref="TimeProvider"/>.</summary>
public sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
