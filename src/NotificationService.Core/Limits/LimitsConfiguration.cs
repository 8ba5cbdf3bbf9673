using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Limits;

public static class LimitsConfiguration
{
    /// <summary>The defaults (checked now, so a bad setting stops the start-up), the token bucket and the 429 for the quota.</summary>
    public static IServiceCollection AddServiceLimits(this IServiceCollection services, IConfiguration configuration, string postgres)
    {
        services.AddSingleton(LimitDefaults.From(configuration));
        // A pool of its own: the token is taken in its own short transaction, before and apart from the offer's.
        services.AddSingleton(new LimitCounters(NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(postgres))));
        services.AddExceptionHandler<PendingJobsQuotaHandler>();
        return services;
    }
}
