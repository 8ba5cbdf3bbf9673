using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NotificationService.Adapters.Runtime;

namespace NotificationService.Adapters.Tests.Runtime;

/// <summary><c>Adapter:HeartbeatSeconds</c> is checked when the worker starts, not when its timer first fails.</summary>
public sealed class WorkerHeartbeatSettingsTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("3601")]
    [InlineData("NaN")]
    public void a_heartbeat_interval_out_of_range_stops_the_start(string seconds)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => Register(seconds));
        Assert.StartsWith("Set Adapter:HeartbeatSeconds", refused.Message); // AdapterWorker prints "Set ..." messages as the reason
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0.5")]
    public void the_default_and_a_short_interval_register_the_heartbeat(string? seconds) =>
        Assert.Single(Register(seconds), s => s.ServiceType == typeof(IHostedService));

    private static IServiceCollection Register(string? seconds)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Adapter:HeartbeatSeconds"] = seconds }).Build();
        return new ServiceCollection().AddWorkerHeartbeat(configuration, parallelism: 4);
    }
}
