using NotificationService.Core.Services;

namespace NotificationService.Core.Limits;

/// <summary>The limits that apply to a service: its own where the admin set one, else the default.</summary>
public sealed record EffectiveLimits(double OffersPerSecond, int Burst, int JobsPerOffer, int PendingJobs, int MaxBodyBytes, int MaxParamsBytes);

/// <summary>
/// The defaults from configuration (<c>Limits:*</c>), checked at start-up. The defaults are high on purpose: they are a
/// safety cap against one runaway tenant, not a tariff; the admin lowers (or raises) them per service.
/// </summary>
public sealed class LimitDefaults
{
    /// <summary>The most a per-service body cap may be: bodies above the global cap are refused before anyone reads them.</summary>
    public const int GlobalMaxBodyBytes = (int)Infrastructure.RequestLimits.MaxBodyBytes;

    public double OffersPerSecond { get; init; } = 1000;
    public int Burst { get; init; } = 2000;
    public int JobsPerOffer { get; init; } = 100;
    public int PendingJobs { get; init; } = 100_000;
    public int MaxBodyBytes { get; init; } = GlobalMaxBodyBytes;
    public int MaxParamsBytes { get; init; } = 256 * 1024;

    public static LimitDefaults From(IConfiguration configuration)
    {
        var defaults = configuration.GetSection("Limits").Get<LimitDefaults>() ?? new LimitDefaults();
        var errors = Check(new ServiceLimits(defaults.OffersPerSecond, defaults.Burst, defaults.JobsPerOffer, defaults.PendingJobs,
            defaults.MaxBodyBytes, defaults.MaxParamsBytes));
        if (errors.Count > 0)
            throw new InvalidOperationException("Invalid limits in configuration: " +
                                                string.Join("; ", errors.Select(e => $"Limits:{char.ToUpperInvariant(e.Field[0])}{e.Field[1..]} {e.Message}")));
        return defaults;
    }

    public EffectiveLimits For(ServiceLimits? own) => new(
        own?.OffersPerSecond ?? OffersPerSecond, own?.Burst ?? Burst, own?.JobsPerOffer ?? JobsPerOffer, own?.PendingJobs ?? PendingJobs,
        own?.MaxBodyBytes ?? MaxBodyBytes, own?.MaxParamsBytes ?? MaxParamsBytes);

    /// <summary>The same rules for configured defaults and for the admin's values (null fields are not checked).</summary>
    public static List<(string Field, string Message)> Check(ServiceLimits limits)
    {
        var errors = new List<(string, string)>();
        // Below one offer a day the bucket would refill so slowly that Retry-After stops meaning anything.
        if (limits.OffersPerSecond is { } rate && (!double.IsFinite(rate) || rate < 1.0 / 86400 || rate > 1_000_000))
            errors.Add(("offersPerSecond", "must be a number from 0.0000116 (one a day) to 1000000"));
        if (limits.Burst is < 1 or > 1_000_000) errors.Add(("burst", "must be an integer from 1 to 1000000 (at least one offer must fit)"));
        if (limits.JobsPerOffer is < 1 or > 10_000) errors.Add(("jobsPerOffer", "must be an integer from 1 to 10000"));
        if (limits.PendingJobs is < 1 or > 100_000_000) errors.Add(("pendingJobs", "must be an integer from 1 to 100000000"));
        if (limits.MaxBodyBytes is < 1024 or > GlobalMaxBodyBytes)
            errors.Add(("maxBodyBytes", $"must be an integer from 1024 to {GlobalMaxBodyBytes} (the global cap: a larger body is refused before its service is known)"));
        if (limits.MaxParamsBytes is < 2 or > GlobalMaxBodyBytes) errors.Add(("maxParamsBytes", $"must be an integer from 2 to {GlobalMaxBodyBytes}"));
        return errors;
    }
}
