using Marten;
using Wolverine;
using Wolverine.Marten;

namespace NotificationService.Core.Offers;

public static class FallbackConfiguration
{
    public const string Queue = "fallbacks";

    /// <summary>
    /// Fallback chains (README "Fallback chains"): the subscription that notices a step's end, and the durable local queue
    /// where its messages and the steps' timers (durable scheduled messages, in PostgreSQL) wait, so a core restart loses none.
    /// </summary>
    public static IServiceCollection AddFallbackChains(this IServiceCollection services)
    {
        services.ConfigureMarten(opts => opts.Schema.For<AdapterHealth>());
        services.SubscribeToEvents(new FallbackSubscription());
        services.ConfigureWolverine(opts => opts.PublishMessage<StartFallbackStep>().ToLocalQueue(Queue).UseDurableInbox());
        return services;
    }
}
