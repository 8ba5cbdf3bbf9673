using System.Globalization;
using System.Security.Cryptography;
using NotificationService.Core.Offers;
using Marten;
using Microsoft.AspNetCore.DataProtection;
using Wolverine;
using Wolverine.Marten;

namespace NotificationService.Core.Callbacks;

/// <summary>The <c>Callbacks:*</c> settings, checked at start-up.</summary>
public sealed record CallbackSettings(
    int MaxPerService, TimeSpan Timeout, bool AllowPrivateNetwork, IReadOnlyList<TimeSpan> RetryDelays, int DisableAfterFailures,
    TimeSpan DisableAfterFailing, int Parallelism, int MaxInFlightPerCallback, int MaxInFlightPerService)
{
    public const string Queue = "callbacks";

    /// <summary>Parked deliveries of one service put back in the queue per round (a second): a few more than its slots.</summary>
    public int ReleasePerServicePerRound => MaxInFlightPerService * 2;

    public static CallbackSettings From(IConfiguration configuration)
    {
        int Whole(string key, int fallback, int min, int max) =>
            configuration.GetValue($"Callbacks:{key}", fallback) is var v && v >= min && v <= max ? v
            : throw new InvalidOperationException($"Callbacks:{key} must be a whole number from {min} to {max}.");
        double Seconds(string key, double fallback, double min, double max) =>
            configuration.GetValue($"Callbacks:{key}", fallback) is var v && double.IsFinite(v) && v >= min && v <= max ? v
            : throw new InvalidOperationException($"Callbacks:{key} must be a number of seconds from {min} to {max}.");

        var delays = (configuration["Callbacks:RetryDelaysSeconds"] is { Length: > 0 } text ? text : "10,60,300,1800,7200,21600")
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 && d <= 86400 ? TimeSpan.FromSeconds(d)
                : throw new InvalidOperationException("Callbacks:RetryDelaysSeconds must be a comma-separated list of seconds, each from 0 to 86400 (e.g. 10,60,300)."))
            .ToList();
        if (delays.Count > 20) throw new InvalidOperationException("Callbacks:RetryDelaysSeconds may list at most 20 delays.");
        var parallelism = Whole("Parallelism", 16, 2, 256);
        // Below the queue's parallelism, so one service's receivers always leave slots for the others.
        var perService = Whole("MaxInFlightPerService", Math.Min(4, parallelism - 1), 1, parallelism - 1);
        return new CallbackSettings(
            Whole("MaxPerService", 10, 1, 100), TimeSpan.FromSeconds(Seconds("TimeoutSeconds", 10, 0.1, 60)),
            configuration.GetValue("Callbacks:AllowPrivateNetwork", false), delays,
            Whole("DisableAfterFailures", 50, 1, 100_000), TimeSpan.FromHours(Seconds("DisableAfterHours", 24, 0.001, 24 * 30)),
            parallelism, Whole("MaxInFlightPerCallback", 4, 1, 256), perService);
    }
}

/// <summary>Callback secrets, encrypted like adapter secrets (Data Protection, key ring in PostgreSQL).</summary>
public sealed class CallbackSecrets(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("NotificationService.CallbackSecret.v1");

    /// <summary>A new secret: 32 random bytes, hex, with a prefix so it is recognisable in a client's configuration.</summary>
    public static string NewSecret() => "nscb_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public string Protect(string secret) => _protector.Protect(secret);
    public string Unprotect(string stored) => _protector.Unprotect(stored);
}

public static class CallbacksConfiguration
{
    /// <summary>
    /// The callback documents, the subscription that turns committed job events into deliveries (run by one core at a time:
    /// the async daemon in HotCold mode), and the settings. The daemon itself is added where Marten is (Program.cs).
    /// </summary>
    public static IServiceCollection AddCallbacks(this IServiceCollection services, CallbackSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton<CallbackSecrets>();
        services.AddSingleton<CallbackSender>();
        services.AddSingleton<CallbackInFlight>();
        services.AddSingleton<IRegisteredCallbacks, RegisteredCallbacks>();
        services.AddHostedService<ParkedCallbackReleaser>();
        services.ConfigureMarten(opts =>
        {
            opts.Schema.For<CallbackEndpoint>().Index(x => x.ServiceId);
            opts.Schema.For<DeletedCallback>();
            // The deliveries page is a keyset over (attemptedAt, id) within one callback, newest first: one index, read
            // backwards, serves it without sorting the callback's rows (Marten puts a sort order on the last column only, so
            // all ascending). attempted_at alone serves the retention sweep.
            opts.Schema.For<CallbackDelivery>().Duplicate(x => x.CallbackId)
                .Duplicate(x => x.AttemptedAt)
                .Index([x => x.CallbackId, x => x.AttemptedAt, x => x.Id], i => i.Name = "mt_doc_callbackdelivery_idx_page");
            // Released by due time, a few per service per round (ReleaseDueCallbacksHandler).
            opts.Schema.For<ParkedCallback>().Duplicate(x => x.ServiceId).Duplicate(x => x.DueAt);
        });
        services.SubscribeToEvents(new CallbackSubscription());
        return services;
    }

    /// <summary>
    /// Deliveries wait in a durable local queue of their own (stored in PostgreSQL with the subscription's progress, so a
    /// core that dies loses none), with bounded parallelism so a slow receiver never takes the threads of job delivery.
    /// </summary>
    public static void RouteCallbacks(this WolverineOptions opts, CallbackSettings settings)
    {
        opts.PublishMessage<DeliverCallback>().ToLocalQueue(CallbackSettings.Queue).UseDurableInbox();
        opts.LocalQueue(CallbackSettings.Queue).MaximumParallelMessages(settings.Parallelism);
    }
}
