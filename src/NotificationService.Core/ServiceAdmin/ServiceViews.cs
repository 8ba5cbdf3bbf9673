using Marten;
using NotificationService.Core.Services;

namespace NotificationService.Core.ServiceAdmin;

/// <param name="Limits">the limits the admin set (null: the configured default; GET .../limits shows the ones that apply)</param>
public sealed record ServiceView(
    Guid Id, string Name, ServiceStatus Status, DateTimeOffset CreatedAt, IReadOnlyList<ServiceKeyView> Keys, ServiceLimits Limits)
{
    /// <summary>Shown by GET /admin/services/{id} (not in the list): the retention set for the service and the one in force.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Retention.RetentionView? Retention { get; init; }

    /// <param name="liveKeys">the service's unrevoked keys by key id, for when each was last used</param>
    public static ServiceView From(ServiceAccount s, IReadOnlyDictionary<Guid, ServiceKey> liveKeys) =>
        new(s.Id, s.Name, s.Status, s.CreatedAt, s.Keys
            .Select(k => new ServiceKeyView(k.KeyId, k.Prefix, k.CreatedAt, liveKeys.GetValueOrDefault(k.KeyId)?.LastUsedAt, k.RevokedAt)).ToList(),
            s.Limits);

    public static async Task<ServiceView> ForAsync(ServiceAccount service, IQuerySession session)
    {
        var live = (await session.Query<ServiceKey>().Where(k => k.ServiceId == service.Id).ToListAsync()).ToDictionary(k => k.KeyId);
        return From(service, live);
    }
}

public sealed record ServiceKeyView(Guid KeyId, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>The answer of the endpoints that change a service's name or status.</summary>
public sealed record ServiceSummary(Guid Id, string Name, ServiceStatus Status);
