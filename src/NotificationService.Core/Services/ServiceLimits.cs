namespace NotificationService.Core.Services;

/// <summary>
/// What the admin set for one service; a null field means "the configured default" (Limits.LimitDefaults).
/// Kept on the service's stream (<see cref="ServiceLimitsChanged"/>), so the admin history shows every change.
/// </summary>
public sealed record ServiceLimits(
    double? OffersPerSecond = null, int? Burst = null, int? JobsPerOffer = null, int? PendingJobs = null, int? MaxBodyBytes = null,
    int? MaxParamsBytes = null);

/// <summary>The limits the admin set for the service after the change (the whole set, so replaying needs no merging).</summary>
public sealed record ServiceLimitsChanged(Guid ServiceId, ServiceLimits Limits, string By, DateTimeOffset At);
