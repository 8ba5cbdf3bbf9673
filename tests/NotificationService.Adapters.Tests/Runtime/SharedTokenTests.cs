using NotificationService.Adapters.Runtime;

namespace NotificationService.Adapters.Tests.Runtime;

/// <summary>The token a worker's sends share: fetched once, replaced early, refetched once however many sends it failed.</summary>
public sealed class SharedTokenTests
{
    private readonly ManualClock _clock = new();
    private int _fetches;

    private Task<(string, TimeSpan)> FetchAsync(CancellationToken _) =>
        Task.FromResult(($"token-{Interlocked.Increment(ref _fetches)}", TimeSpan.FromHours(24)));

    [Fact]
    public async Task a_refused_token_is_replaced_once_and_a_later_report_of_it_gets_the_new_one()
    {
        var shared = new SharedToken(_clock);
        var first = await shared.GetAsync(FetchAsync, default);

        Assert.Equal("token-2", await shared.GetAsync(FetchAsync, default, refused: first));
        Assert.Equal("token-2", await shared.GetAsync(FetchAsync, default, refused: first)); // a slower send refused with token-1
        Assert.Equal(2, _fetches);
    }

    [Fact]
    public async Task it_is_replaced_a_tenth_of_its_lifetime_but_at_most_five_minutes_early()
    {
        var shared = new SharedToken(_clock);
        await shared.GetAsync(FetchAsync, default);

        _clock.Advance(TimeSpan.FromHours(24) - TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.Equal("token-1", await shared.GetAsync(FetchAsync, default));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("token-2", await shared.GetAsync(FetchAsync, default));
    }

    [Fact]
    public async Task a_failed_fetch_keeps_nothing_and_the_next_send_fetches_again()
    {
        var shared = new SharedToken(_clock);
        await Assert.ThrowsAsync<HttpRequestException>(() => shared.GetAsync(_ => throw new HttpRequestException("down"), default));

        Assert.Equal("token-1", await shared.GetAsync(FetchAsync, default));
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }
}
