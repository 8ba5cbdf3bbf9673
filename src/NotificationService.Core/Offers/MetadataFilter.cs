using System.Text.Json;

namespace NotificationService.Core.Offers;

/// <summary>
/// <c>?metadata.&lt;key&gt;=&lt;value&gt;</c> on the offer and job listings: the offer's metadata must hold every pair given.
/// Read from the raw query string, since the keys are the client's own (Wolverine binds named parameters only).
/// </summary>
public static class MetadataFilter
{
    public const string Prefix = "metadata.";
    public const int MaxFilters = 10;

    /// <summary>The pairs asked for (none: null), adding to <paramref name="errors"/> what cannot be a filter.</summary>
    public static Dictionary<string, string>? Parse(IQueryCollection query, List<(string Field, string Message)> errors)
    {
        Dictionary<string, string>? pairs = null;
        foreach (var (name, values) in query)
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var key = name[Prefix.Length..];
            if (key.Length == 0) errors.Add((name, "Name the metadata key: metadata.<key>=<value>."));
            // Two values for one key could never both match: a mistake, not an empty result.
            else if (values.Count != 1) errors.Add((name, "Give each metadata key once."));
            else (pairs ??= [])[key] = values[0] ?? "";
        }
        if (pairs is { Count: > MaxFilters }) errors.Add(("metadata", $"At most {MaxFilters} metadata filters."));
        return pairs;
    }

    /// <summary>The jsonb an offer's <c>data -> 'metadata'</c> must contain (@>, served by the GIN index on that expression).</summary>
    public static string ToContainment(Dictionary<string, string> pairs) => JsonSerializer.Serialize(pairs);
}
