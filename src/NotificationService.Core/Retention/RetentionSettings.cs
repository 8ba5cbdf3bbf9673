using NotificationService.Core.Services;

namespace NotificationService.Core.Retention;

/// <summary>The retention in force for a service: its own values where the admin set them, else the defaults.</summary>
public sealed record EffectiveRetention(int ParamsDays, int JobsDays, int IdempotencyDays);

/// <summary>The <c>Retention:*</c> settings, checked at start-up so a typo stops the core instead of deleting the wrong data.</summary>
public sealed record RetentionSettings(EffectiveRetention Defaults, TimeSpan SweepInterval, int BatchSize)
{
    public const int MaxDays = 36500;
    public const int MaxBatchSize = 10_000;

    public static RetentionSettings From(IConfiguration configuration)
    {
        int Days(string key, int fallback, int min) =>
            configuration.GetValue($"Retention:{key}", fallback) is var days && days >= min && days <= MaxDays ? days
            : throw new InvalidOperationException($"Retention:{key} must be a whole number of days from {min} to {MaxDays}.");

        var defaults = new EffectiveRetention(Days("ParamsDays", 30, 0), Days("JobsDays", 365, 1), Days("IdempotencyDays", 7, 1));
        var sweep = configuration.GetValue("Retention:SweepSeconds", 300.0);
        if (!double.IsFinite(sweep) || sweep < 0 || sweep > TimeSpan.FromDays(1).TotalSeconds)
            throw new InvalidOperationException("Retention:SweepSeconds must be from 0 (no sweep) to 86400.");
        var batch = configuration.GetValue("Retention:BatchSize", 500);
        if (batch is < 1 or > MaxBatchSize) throw new InvalidOperationException($"Retention:BatchSize must be from 1 to {MaxBatchSize}.");
        return new RetentionSettings(defaults, TimeSpan.FromSeconds(sweep), batch);
    }

    public EffectiveRetention For(ServiceRetention? service) => new(
        service?.ParamsDays ?? Defaults.ParamsDays, service?.JobsDays ?? Defaults.JobsDays, service?.IdempotencyDays ?? Defaults.IdempotencyDays);
}

/// <summary>What the admin API shows: the values set for the service (null: default) and the ones in force.</summary>
public sealed record RetentionView(ServiceRetention Set, EffectiveRetention Effective)
{
    public static RetentionView For(ServiceRetention? set, RetentionSettings settings) => new(set ?? new ServiceRetention(), settings.For(set));
}
