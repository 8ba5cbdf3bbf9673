using System.Text.Json;

namespace NotificationService.Storage.Adapters;

public enum AdapterStatus { Active, Blocked }

/// <summary>
/// A configured adapter instance: the inline projection of its stream (which is also its admin history). Read by its
/// workers at start-up through <see cref="KeyHash"/>, which is how a worker presenting its key finds config and queue.
/// </summary>
public sealed class Adapter
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string Type { get; set; } = "";
    /// <summary>The connection config; secret fields are stored encrypted, never in plain text.</summary>
    public JsonElement Config { get; set; }
    public string ParamsSchema { get; set; } = "";
    public AdapterStatus Status { get; set; }
    public string Queue { get; set; } = "";
    public string KeyHash { get; set; } = "";
    public DeliveryPolicy Policy { get; set; } = new();
    /// <summary>The services that may use this adapter; empty means every service.</summary>
    public List<Guid> AllowedServices { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    [Marten.Schema.Version] public long Version { get; set; }

    public bool MayBeUsedBy(Guid serviceId) => AllowedServices.Count == 0 || AllowedServices.Contains(serviceId);

    public void Apply(AdapterRegistered e)
    {
        (Id, Name, Type, Config, ParamsSchema, Queue, KeyHash) = (e.AdapterId, e.Name, e.Type, e.Config, e.ParamsSchema, e.Queue, e.KeyHash);
        (Policy, AllowedServices, Status, CreatedAt, UpdatedAt) = (e.Policy, e.AllowedServices.ToList(), AdapterStatus.Active, e.At, e.At);
    }

    public void Apply(AdapterReconfigured e)
    {
        Config = e.Config ?? Config;
        ParamsSchema = e.ParamsSchema ?? ParamsSchema;
        Policy = e.Policy ?? Policy;
        AllowedServices = e.AllowedServices?.ToList() ?? AllowedServices;
        UpdatedAt = e.At;
    }

    public void Apply(AdapterBlocked e) => (Status, UpdatedAt) = (AdapterStatus.Blocked, e.At);
    public void Apply(AdapterUnblocked e) => (Status, UpdatedAt) = (AdapterStatus.Active, e.At);
    public bool ShouldDelete(AdapterDeleted e) => true;

    /// <summary>
    /// The adapter as it is once <paramref name="change"/> is stored, this loaded copy left as it is: what an admin
    /// endpoint answers with while it returns the event for Wolverine to append (the same Apply as Marten's projection).
    /// Not Wolverine's <c>UpdatedAggregate</c>: that answers with the aggregate itself, i.e. the encrypted config and the
    /// key hash, where the endpoints answer with the redacted AdapterView. Every event with an Apply here other than
    /// the creation must be handled (tested in Core.Tests/Architecture/when_an_endpoint_answers_with_the_state_after_its_events.cs).
    /// </summary>
    public Adapter After(object change)
    {
        var next = (Adapter)MemberwiseClone();
        switch (change)
        {
            case AdapterReconfigured e: next.Apply(e); break;
            case AdapterBlocked e: next.Apply(e); break;
            case AdapterUnblocked e: next.Apply(e); break;
            default: throw new ArgumentException($"{change.GetType().Name} does not change an adapter in place.", nameof(change));
        }
        return next;
    }
}

/// <summary>How the adapter's workers deliver: retries with exponential backoff and jitter, and an optional rate limit.</summary>
public sealed record DeliveryPolicy
{
    public int MaxAttempts { get; init; } = 5;
    public double InitialBackoffSeconds { get; init; } = 2;
    public double MaxBackoffSeconds { get; init; } = 300;
    /// <summary>Messages per second across all of the adapter's workers; null means unlimited.</summary>
    public double? RateLimitPerSecond { get; init; }
    /// <summary>Time-to-live applied to jobs whose offer sets no expireAt; null means they never expire.</summary>
    public double? DefaultTtlSeconds { get; init; }
    /// <summary>
    /// Another adapter of the same type that takes this one's new jobs while this one is blocked, or while its jobs have
    /// failed with transient errors for longer than <see cref="FailoverAfterSeconds"/> (README "Failover between adapters").
    /// </summary>
    public string? FailoverAdapter { get; init; }
    /// <summary>How long this adapter's jobs must have failed transiently, with none delivered, before new jobs go to the failover.</summary>
    public double FailoverAfterSeconds { get; init; } = 300;

    /// <summary>
    /// When a job that starts waiting at <paramref name="from"/> expires if its offer set no expiry; a time past the end
    /// of the calendar (a huge TTL, or a send time near 9999-12-31) is the calendar's end, not an exception.
    /// </summary>
    public DateTimeOffset? DefaultExpiry(DateTimeOffset from) =>
        DefaultTtlSeconds is not { } ttl ? null
        : ttl >= (DateTimeOffset.MaxValue - from).TotalSeconds ? DateTimeOffset.MaxValue
        : from.AddSeconds(ttl);

    /// <summary>The wait before the attempt after <paramref name="failedAttempt"/>: exponential, capped, with ±20% jitter.</summary>
    public TimeSpan BackoffAfter(int failedAttempt, double jitter01)
    {
        var seconds = Math.Min(MaxBackoffSeconds, InitialBackoffSeconds * Math.Pow(2, Math.Max(0, failedAttempt - 1)));
        return TimeSpan.FromSeconds(seconds * (0.8 + 0.4 * jitter01));
    }
}
