using System.Collections.Concurrent;
using Marten;
using Marten.Services;
using NotificationService.Core.Services;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Auth;

/// <summary>
/// Short-lived copies of what every client request reads before it writes: its key with the key's service, and the
/// adapters its offer names. Without them each offer cost three more database round trips (and transactions) than the
/// one that stores it. A change committed through this core drops the copies at once (<see cref="AccessCacheInvalidation"/>);
/// another core instance serves its copy until it expires, so a revoked key or a block reaches it within
/// <see cref="Lifetime"/>. Misses are never kept: a new key or adapter works at once everywhere.
/// </summary>
public sealed class AccessCache(TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    public Copies<string, (ServiceKey Key, ServiceAccount Service)> ServiceKeys { get; } = new(clock);
    public Copies<string, Adapter> Adapters { get; } = new(clock);

    public sealed class Copies<TKey, TValue>(TimeProvider clock) where TKey : notnull
    {
        private readonly ConcurrentDictionary<TKey, (TValue Value, DateTimeOffset Until)> _entries = new();

        public bool TryGet(TKey key, out TValue value)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Until > clock.GetUtcNow()) { value = entry.Value; return true; }
            value = default!;
            return false;
        }

        public void Keep(TKey key, TValue value) => _entries[key] = (value, clock.GetUtcNow() + Lifetime);

        public void Clear() => _entries.Clear();
    }
}

/// <summary>Any committed change to a service or an adapter drops this node's copies of all of them: such changes are rare.</summary>
public sealed class AccessCacheInvalidation(AccessCache cache) : DocumentSessionListenerBase
{
    public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
    {
        foreach (var e in commit.GetEvents())
        {
            if (e.Data is ServiceRenamed or ServiceBlocked or ServiceUnblocked or ServiceKeyRevoked or ServiceLimitsChanged) cache.ServiceKeys.Clear();
            if (e.Data is AdapterReconfigured or AdapterBlocked or AdapterUnblocked or AdapterDeleted) cache.Adapters.Clear();
        }
        return Task.CompletedTask;
    }
}
