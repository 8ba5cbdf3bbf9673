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
    /// <param name="config">the whole config to check; for an update, the stored config (secrets decrypted) with the patch merged in</param>
    public static async Task<List<(string, string)>> CheckAsync(
        AdapterType type, JsonElement? config, JsonElement? paramsSchema, List<Guid>? services, DeliveryPolicy? policy,
        JsonSchemas schemas, IQuerySession session, string? name = null)
    {
        var errors = new List<(string, string)>();
        if (config is { } c) errors.AddRange(await schemas.ValidateAsync(type.ConfigSchema, c, "config"));
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
            if (p.FailoverAfterSeconds is < 1 or > 7 * 24 * 3600) errors.Add(("policy.failoverAfterSeconds", "From 1 to 604800 seconds (7 days)."));
            if (p.FailoverAdapter is { } failover)
            {
                // Another adapter of the same type: the failed-over jobs' params must mean the same thing to it.
                var other = failover == name ? null : await session.Query<Adapter>().FirstOrDefaultAsync(a => a.Name == failover);
                if (failover == name) errors.Add(("policy.failoverAdapter", "An adapter cannot be its own failover."));
                else if (other is null) errors.Add(("policy.failoverAdapter", $"No adapter named '{failover}'."));
                else if (other.Type != type.Name) errors.Add(("policy.failoverAdapter", $"'{failover}' is a {other.Type} adapter; the failover must be a {type.Name} adapter too."));
            }
        }
        return errors;
    }

    private static readonly JsonSerializerOptions PolicyJson = new(JsonSerializerDefaults.Web);
    private static readonly HashSet<string> PolicyFields =
        typeof(DeliveryPolicy).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).ToHashSet();

    /// <summary>
    /// The policy a merge patch leaves (fields not sent keep their value, null ones go back to their default), or the
    /// fields that make it unreadable; its values are checked by <see cref="CheckAsync"/>.
    /// </summary>
    public static (DeliveryPolicy? Policy, List<(string, string)> Errors) MergePolicy(DeliveryPolicy current, JsonElement patch)
    {
        var merged = JsonMergePatch.Apply(JsonSerializer.SerializeToElement(current, PolicyJson), patch);
        if (merged.ValueKind != JsonValueKind.Object) return (null, [("policy", "must be an object")]);
        var unknown = merged.EnumerateObject().Where(p => !PolicyFields.Contains(p.Name)).Select(p => ($"policy.{p.Name}", "is not a known property")).ToList();
        if (unknown.Count > 0) return (null, unknown);
        try
        {
            return (merged.Deserialize<DeliveryPolicy>(PolicyJson), []);
        }
        catch (JsonException e)
        {
            return (null, [($"policy{e.Path?.TrimStart('$')}", "must be a number")]);
        }
    }
}
