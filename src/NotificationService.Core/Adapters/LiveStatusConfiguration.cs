using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace NotificationService.Core.Adapters;

public static class LiveStatusConfiguration
{
    /// <summary>Live worker status: the queue-depth sampler, the reader the admin endpoints use, and the <c>workers</c> health check.</summary>
    public static IServiceCollection AddLiveWorkerStatus(this IServiceCollection services, IConfiguration configuration, string rabbitMq)
    {
        services.AddSingleton(LiveStatusSettings.From(configuration)).AddSingleton<QueueDepths>().AddSingleton<AdapterLiveness>();
        services.AddHostedService(sp => new QueueDepthSampler(sp.GetRequiredService<IDocumentStore>(), sp.GetRequiredService<QueueDepths>(),
            sp.GetRequiredService<LiveStatusSettings>(), rabbitMq, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<QueueDepthSampler>>()));
        services.AddHealthChecks().AddCheck<WorkersHealthCheck>("workers", HealthStatus.Degraded, timeout: TimeSpan.FromSeconds(5));
        return services;
    }
}
