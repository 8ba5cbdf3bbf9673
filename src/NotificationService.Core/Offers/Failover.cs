using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Offers;

/// <summary>Where a new job goes: <see cref="Adapter"/> (null: nowhere, see <see cref="Error"/>), and why it was rerouted (null: it was not).</summary>
public sealed record Route(Adapter? Adapter, string? Reason, string? Error);

/// <summary>
/// Admin-side failover between two adapters of one type (README "Failover between adapters"): a new job for an adapter
/// that is blocked, or whose jobs have failed transiently for longer than its policy's failoverAfterSeconds, goes to the
/// adapter its policy names as <c>failoverAdapter</c>, if that one is active, of the same type and usable by the service.
/// </summary>
public static class Failover
{
    /// <param name="byName">the adapters loaded for the request, failovers included</param>
    /// <param name="failingSince">since when the adapter's jobs have failed with transient errors and none was delivered; null: not failing</param>
    public static Route Resolve(Adapter requested, Func<string, Adapter?> byName, Guid serviceId, DateTimeOffset? failingSince, DateTimeOffset now)
    {
        var reason = requested.Status == AdapterStatus.Blocked ? "blocked"
            : failingSince is { } since && now - since >= TimeSpan.FromSeconds(requested.Policy.FailoverAfterSeconds) ? "failing"
            : null;
        if (reason is null) return new Route(requested, null, null);
        var name = requested.Policy.FailoverAdapter;
        if (name is not null && byName(name) is { } failover && failover.Id != requested.Id && failover.Type == requested.Type
            && failover.Status == AdapterStatus.Active && failover.MayBeUsedBy(serviceId))
            return new Route(failover, reason, null);
        // Failing but with no usable failover: the adapter keeps its jobs (its retries may still get them through).
        return reason == "failing" ? new Route(requested, null, null)
            : new Route(null, null, $"Adapter '{requested.Name}' is blocked." + (name is null ? "" : $" Its failover adapter '{name}' is not available to this service either."));
    }
}
