namespace NotificationService.Core.Services;

/// <summary>
/// How long a service's data is kept, in days: job params after the job ended, ended jobs (streams and documents), and
/// idempotency records after their request. Null: the configured default.
/// </summary>
public sealed record ServiceRetention(int? ParamsDays = null, int? JobsDays = null, int? IdempotencyDays = null);

/// <summary>The admin set the service's retention; <paramref name="Retention"/> is the whole result (null fields: defaults).</summary>
public sealed record ServiceRetentionSet(Guid ServiceId, ServiceRetention Retention, string By, DateTimeOffset At);
