using Microsoft.Extensions.Configuration;
using NotificationService.Core.Jobs;
using NotificationService.Hosting;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>The fair-share priority as a pure function of a service's recent volume, and its decay, without a host.</summary>
public sealed class FairShareTests
{
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks;
        public override long GetTimestamp() => Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    [Theory]
    [InlineData(1, 9)]
    [InlineData(100, 9)]
    [InlineData(101, 8)]
    [InlineData(200, 8)]
    [InlineData(201, 7)]
    [InlineData(25_600, 1)]
    [InlineData(51_200, 0)]
    [InlineData(10_000_000, 0)]
    public void each_doubling_past_the_free_jobs_costs_one_level(double recentJobs, byte priority) =>
        Assert.Equal(priority, FairShare.PriorityFor(recentJobs, freeJobs: 100));

    private sealed class NoMapping : Wolverine.RabbitMQ.Internal.IRabbitMqEnvelopeMapper
    {
        public void MapEnvelopeToOutgoing(Wolverine.Envelope envelope, RabbitMQ.Client.IBasicProperties outgoing) { }
        public void MapIncomingToEnvelope(Wolverine.Envelope envelope, RabbitMQ.Client.IReadOnlyBasicProperties incoming) { }
    }

    [Theory]
    [InlineData("3", 3)]
    [InlineData("9", 9)]
    [InlineData("200", 9)] // never above the queue's levels
    [InlineData("high", 0)] // not a priority: the AMQP default
    public void the_priority_header_becomes_the_amqp_priority(string header, byte priority)
    {
        var properties = new RabbitMQ.Client.BasicProperties();
        var envelope = new Wolverine.Envelope { Headers = { [AdapterQueues.PriorityHeader] = header } };
        new AdapterQueues.PriorityMapper(new NoMapping()).MapEnvelopeToOutgoing(envelope, properties);
        Assert.Equal(priority, properties.Priority);
    }

    [Theory]
    [InlineData("Fairness:FreeJobs", "0")]
    [InlineData("Fairness:WindowSeconds", "0")]
    [InlineData("Fairness:WindowSeconds", "-5")]
    public void a_setting_out_of_range_stops_the_start_naming_it(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        Assert.Contains(key, Assert.Throws<InvalidOperationException>(() => FairShare.Settings.From(configuration)).Message);
    }

    [Fact]
    public void the_defaults_are_ten_seconds_and_fifty_jobs() =>
        Assert.Equal(new FairShare.Settings(TimeSpan.FromSeconds(10), 50), FairShare.Settings.From(new ConfigurationBuilder().Build()));

    [Fact]
    public void a_heavy_service_sinks_a_light_one_stays_on_top_and_the_heavy_one_recovers_as_its_volume_decays()
    {
        var clock = new ManualClock();
        var share = new FairShare(new FairShare.Settings(TimeSpan.FromSeconds(60), FreeJobs: 10), clock);
        var (heavy, light, adapter) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        byte Next(Guid service, Guid? on = null) => byte.Parse(share.Next(service, on ?? adapter).Headers[AdapterQueues.PriorityHeader]!);

        var heavyPriorities = Enumerable.Range(0, 1000).Select(_ => Next(heavy)).ToList();
        Assert.Equal(9, heavyPriorities[9]);
        Assert.Equal(8, heavyPriorities[10]);
        Assert.Equal(2, heavyPriorities[^1]); // 1000 recent jobs: 9 - ceil(log2(100))
        Assert.Equal(9, Next(light));
        Assert.Equal(9, Next(heavy, on: Guid.NewGuid())); // the volume counts per adapter

        clock.Ticks += TimeSpan.FromMinutes(10).Ticks; // ten windows: 1000 * e^-10 < 1
        Assert.Equal(9, Next(heavy));
    }
}
