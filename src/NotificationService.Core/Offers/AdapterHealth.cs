using JasperFx.Events;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Offers;

/// <summary>
/// Whether an adapter's jobs are failing with transient errors, for failover (README "Failover between adapters"): kept by
/// <see cref="FallbackSubscription"/> from committed job events, so it follows every worker of the adapter. Keyed by the
/// adapter's id. Event timestamps only, so a replay gives the same answer.
/// </summary>
public sealed class AdapterHealth
{
    public Guid Id { get; set; }
    /// <summary>The first transient failure since the adapter last delivered a job; null once one is delivered.</summary>
    public DateTimeOffset? FailingSince { get; set; }
    public DateTimeOffset? LastFailureAt { get; set; }

    /// <summary>
    /// Since when the adapter has been failing, as failover reads it: failures for at least <paramref name="bound"/> and the
    /// last one within it. An adapter no job has tried for that long is given its jobs again, so the first of them probes
    /// whether it recovered (otherwise nothing would ever clear a failover that took all of its jobs away).
    /// </summary>
    public DateTimeOffset? FailingAsOf(DateTimeOffset now, TimeSpan bound) =>
        FailingSince is { } since && LastFailureAt is { } last && now - last <= bound ? since : null;

    /// <summary>The adapter's failing-since as <see cref="Failover"/> reads it, from the healths loaded (null: not failing, or not loaded).</summary>
    public static DateTimeOffset? FailingAsOf(IReadOnlyDictionary<Guid, AdapterHealth>? health, Storage.Adapters.Adapter adapter, DateTimeOffset now) =>
        health?.GetValueOrDefault(adapter.Id)?.FailingAsOf(now, TimeSpan.FromSeconds(adapter.Policy.FailoverAfterSeconds));

    /// <summary>This batch's job events, in order, on the adapters' health; returns the ones that changed.</summary>
    public static IReadOnlyCollection<AdapterHealth> Track(
        IEnumerable<IEvent> events, IReadOnlyDictionary<Guid, Guid> adapterOfJob, IDictionary<Guid, AdapterHealth> health)
    {
        var changed = new Dictionary<Guid, AdapterHealth>();
        foreach (var e in events)
        {
            if (!adapterOfJob.TryGetValue(e.StreamId, out var adapterId)) continue;
            var current = health.TryGetValue(adapterId, out var h) ? h : null;
            switch (e.Data)
            {
                case JobAttemptFailed failed:
                    current ??= health[adapterId] = new AdapterHealth { Id = adapterId };
                    current.FailingSince ??= failed.FailedAt;
                    current.LastFailureAt = failed.FailedAt;
                    changed[adapterId] = current;
                    break;
                case JobFinished when current?.FailingSince is not null:
                    (current.FailingSince, current.LastFailureAt) = (null, null);
                    changed[adapterId] = current;
                    break;
            }
        }
        return changed.Values;
    }
}
