using System.Text.Json;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Hosting;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Adapters;

/// <summary>An adapter as the admin API shows it: config without its secrets, and which secrets are set.</summary>
/// <param name="Live">its workers, queue and status now: in GET /admin/adapters and /admin/adapters/{id}, null in the answers to changes</param>
public sealed record AdapterView(
    Guid Id, string Name, string Type, AdapterStatus Status, string Queue, JsonElement Config, IReadOnlyList<string> SecretsSet,
    JsonElement ParamsSchema, IReadOnlyList<Guid> Services, DeliveryPolicy Policy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    AdapterLive? Live = null)
{
    public static AdapterView From(Adapter a)
    {
        var type = KnownAdapterTypes.Find(a.Type);
        return new AdapterView(a.Id, a.Name, a.Type, a.Status, a.Queue, AdapterSecrets.Redact(type, a.Config), AdapterSecrets.SecretsSet(type, a.Config),
            JsonDocument.Parse(a.ParamsSchema).RootElement, a.AllowedServices, a.Policy, a.CreatedAt, a.UpdatedAt);
    }
}
