using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Limits;

public static class LimitsConfiguration
{
    /// <summary>The defaults (checked now, so a bad setting stops the start-up) and the shared counters.</summary>
    public static IServiceCollection AddServiceLimits(this IServiceCollection services, IConfiguration configuration, string postgres)
    {
        services.AddSingleton(LimitDefaults.From(configuration));
        // A pool of its own: the token and the reservation are taken in their own short transaction, before the offer's.
        services.AddSingleton(sp => new LimitCounters(NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(postgres)),
            sp.GetRequiredService<ILogger<LimitCounters>>()));
        ReservationSweeper.Interval(configuration);
        services.AddHostedService<ReservationSweeper>();
        return services;
    }
}
