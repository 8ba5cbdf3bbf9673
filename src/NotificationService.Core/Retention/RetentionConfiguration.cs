using Marten;

namespace NotificationService.Core.Retention;

public static class RetentionConfiguration
{
    /// <summary>The retention settings (checked now, at start-up), the sweep in every core, and the erasure audit records.</summary>
    public static IServiceCollection AddRetention(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(RetentionSettings.From(configuration));
        services.AddSingleton<RetentionSweeper>().AddHostedService(sp => sp.GetRequiredService<RetentionSweeper>());
        services.ConfigureMarten(opts =>
        {
            opts.Schema.For<Erasure>().Index(x => x.At);
            // The sweep deletes idempotency records by age.
            opts.Schema.For<Offers.IdempotentRequest>().Index(x => x.CreatedAt);
            opts.Schema.For<OrphanWalk>();
        });
        return services;
    }
}
