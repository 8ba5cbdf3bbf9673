namespace NotificationService.Core.Adapters;

/// <param name="LiveBound">a worker whose last heartbeat is older is not live (Workers:LiveSeconds, default 30: three missed 10 s heartbeats)</param>
/// <param name="SampleInterval">how often the core samples the adapter queues' depths (Workers:SampleSeconds, default 5)</param>
/// <param name="BacklogSamples">K of <c>backlog growing</c>: the depth rose at each of the last K samples (Workers:BacklogSamples, default 3)</param>
public sealed record LiveStatusSettings(TimeSpan LiveBound, TimeSpan SampleInterval, int BacklogSamples)
{
    public static LiveStatusSettings From(IConfiguration configuration)
    {
        var live = configuration.GetValue("Workers:LiveSeconds", 30.0);
        var sample = configuration.GetValue("Workers:SampleSeconds", 5.0);
        var samples = configuration.GetValue("Workers:BacklogSamples", 3);
        if (!(live > 0) || !(sample > 0) || samples < 1)
            throw new InvalidOperationException(
                $"Set Workers:LiveSeconds and Workers:SampleSeconds to positive numbers of seconds and Workers:BacklogSamples to 1 or more (got {live}, {sample}, {samples}).");
        return new LiveStatusSettings(TimeSpan.FromSeconds(live), TimeSpan.FromSeconds(sample), samples);
    }
}
