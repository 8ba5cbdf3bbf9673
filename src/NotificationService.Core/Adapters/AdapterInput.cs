using System.Text.Json;
using Marten;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Adapters;

/// <summary>Checks shared by creating and reconfiguring an adapter; each returns (field path, message) pairs.</summary>
public static class AdapterInput
{
    public static async Task<List<(string, string)>> CheckAsync(
        AdapterType type, JsonElement? config, JsonElement? paramsSchema, List<Guid>? services, DeliveryPolicy? policy,
        JsonSchemas schemas, IQuerySession session, JsonElement? storedConfig = null)
    {
        var errors = new List<(string, string)>();
        if (config is { } c)
        {
            // Secrets are write-only, so an update may leave out the ones already stored; validate as if they were sent.
            var candidate = c;
            if (storedConfig is { } stored && c.ValueKind == JsonValueKind.Object)
            {
                var merged = System.Text.Json.Nodes.JsonNode.Parse(c.GetRawText())!.AsObject();
                foreach (var field in type.SecretFields)
                    if (merged[field] is null && stored.TryGetProperty(field, out _)) merged[field] = "(kept)";
                candidate = JsonSerializer.SerializeToElement(merged);
            }
            errors.AddRange(await schemas.ValidateAsync(type.ConfigSchema, candidate, "config"));
        }
        if (paramsSchema is { } schema) errors.AddRange(await JsonSchemas.CheckIsSchemaAsync(schema.GetRawText(), "paramsSchema"));
        if (services is { Count: > 0 })
        {
            var known = (await session.LoadManyAsync<ServiceAccount>(services.Distinct())).Select(s => s.Id).ToHashSet();
            for (var i = 0; i < services.Count; i++)
                if (!known.Contains(services[i])) errors.Add(($"services[{i}]", "No such service."));
        }
        if (policy is { } p)
        {
            if (p.MaxAttempts is < 1 or > 100) errors.Add(("policy.maxAttempts", "Between 1 and 100."));
            if (p.InitialBackoffSeconds <= 0) errors.Add(("policy.initialBackoffSeconds", "Must be positive."));
            if (p.MaxBackoffSeconds < p.InitialBackoffSeconds) errors.Add(("policy.maxBackoffSeconds", "Must be at least initialBackoffSeconds."));
            if (p.RateLimitPerSecond is <= 0) errors.Add(("policy.rateLimitPerSecond", "Must be positive, or null for no limit."));
            if (p.DefaultTtlSeconds is <= 0) errors.Add(("policy.defaultTtlSeconds", "Must be positive, or null for no expiry."));
        }
        return errors;
    }
}
