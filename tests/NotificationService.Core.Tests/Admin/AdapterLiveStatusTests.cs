using Microsoft.Extensions.Configuration;
using NotificationService.Core.Adapters;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Tests.Admin;

/// <summary>The status rule of live worker status, without a host.</summary>
public class AdapterLiveStatusTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static LiveStatus Decide(AdapterStatus status = AdapterStatus.Active, int workers = 1, double? oldest = null, long[]? depths = null) =>
        AdapterLiveStatus.Decide(status, workers, oldest, depths ?? [], Bound, backlogSamples: 3);

    [Fact]
    public void a_blocked_adapter_is_blocked_whatever_else_holds() =>
        Assert.Equal(LiveStatus.Blocked, Decide(AdapterStatus.Blocked, workers: 0, oldest: 600, depths: [1, 2, 3, 4]));

    [Fact]
    public void no_live_worker_needs_a_job_waiting_longer_than_the_bound()
    {
        Assert.Equal(LiveStatus.NoLiveWorker, Decide(workers: 0, oldest: 31));
        Assert.Equal(LiveStatus.Ok, Decide(workers: 0, oldest: 29)); // a worker may be starting with the first job
        Assert.Equal(LiveStatus.Ok, Decide(workers: 0, oldest: null)); // idle with no worker: nothing is stranded
        Assert.Equal(LiveStatus.Ok, Decide(workers: 1, oldest: 600, depths: [5, 5, 5, 5]));
    }

    [Fact]
    public void a_backlog_grows_when_the_depth_rose_at_each_of_the_last_k_samples()
    {
        Assert.Equal(LiveStatus.BacklogGrowing, Decide(depths: [1, 2, 3, 4]));
        Assert.Equal(LiveStatus.BacklogGrowing, Decide(depths: [9, 0, 2, 3, 4]));
        Assert.Equal(LiveStatus.Ok, Decide(depths: [2, 3, 4])); // K rises need K + 1 samples
        Assert.Equal(LiveStatus.Ok, Decide(depths: [1, 2, 2, 4])); // a flat sample breaks the run
        Assert.Equal(LiveStatus.Ok, Decide(depths: [4, 3, 2, 1]));
        Assert.Equal(LiveStatus.NoLiveWorker, Decide(workers: 0, oldest: 31, depths: [1, 2, 3, 4])); // stranded is the bigger news
    }

    [Fact]
    public void the_depth_history_keeps_k_plus_one_samples_and_an_unreadable_queue_breaks_the_run()
    {
        var depths = new QueueDepths();
        var id = Guid.NewGuid();
        var at = DateTimeOffset.UnixEpoch;
        foreach (var depth in new long?[] { 1, 2, 3, 4, 5 }) depths.Record(new Dictionary<Guid, long?> { [id] = depth }, at, keep: 4);
        Assert.Equal([2L, 3, 4, 5], depths.For(id)!.Recent);
        depths.Record(new Dictionary<Guid, long?> { [id] = null }, at, keep: 4);
        Assert.Empty(depths.For(id)!.Recent);
        Assert.Null(depths.For(id)!.Depth);
        depths.Record(new Dictionary<Guid, long?>(), at, keep: 4); // a deleted adapter is dropped
        Assert.Null(depths.For(id));
    }

    [Theory]
    [InlineData("Workers:LiveSeconds", "0")]
    [InlineData("Workers:SampleSeconds", "-1")]
    [InlineData("Workers:BacklogSamples", "0")]
    public void settings_out_of_range_stop_the_start(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        Assert.StartsWith("Set Workers:LiveSeconds", Assert.Throws<InvalidOperationException>(() => LiveStatusSettings.From(configuration)).Message);
    }

    [Fact]
    public void the_defaults_are_thirty_seconds_five_seconds_and_three_samples() =>
        Assert.Equal(new LiveStatusSettings(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5), 3),
            LiveStatusSettings.From(new ConfigurationBuilder().Build()));
}
