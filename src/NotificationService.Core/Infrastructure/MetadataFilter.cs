using System.Text.Json;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// <c>?metadata.&lt;key&gt;=&lt;value&gt;</c> on the offer and job listings: the offer's metadata must hold every pair given.
/// Read from the raw query string, since the keys are the client's own (Wolverine binds named parameters only).
/// </summary>
public static class MetadataFilter
{
    public const string Prefix = "metadata.";
    public const int MaxFilters = 10;

    /// <summary>
    /// The pairs asked for (none: null), adding to <paramref name="errors"/> what cannot be a filter and every query
    /// parameter that is neither a filter nor one of <paramref name="accepted"/>: a misspelt or foreign filter
    /// (?status=Failed) would otherwise be ignored and the whole listing come back as if it had matched.
    /// </summary>
    public static Dictionary<string, string>? Parse(IQueryCollection query, List<(string Field, string Message)> errors, params string[] accepted)
    {
        Dictionary<string, string>? pairs = null;
        foreach (var (name, values) in query)
        {
            // Case-insensitive like every other parameter name (ASP.NET's query binding); the key after it stays exact.
            if (!name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                if (!accepted.Contains(name, StringComparer.OrdinalIgnoreCase))
                    errors.Add((name, $"Not a parameter of this listing; it takes {string.Join(", ", accepted)} and {Prefix}<key>=<value>."));
                continue;
            }
            var key = name[Prefix.Length..];
            if (key.Length == 0) errors.Add((name, "Name the metadata key: metadata.<key>=<value>."));
            // jsonb refuses NUL (a 500 from the containment query), and no stored key can hold a control character or
            // half a surrogate pair (CreateOffer's metadata keys are JSON strings of the client's: text it could type).
            else if (!IsText(key)) errors.Add((name, "The metadata key holds a control character or an unpaired surrogate."));
            // Two values for one key could never both match: a mistake, not an empty result.
            else if (values.Count != 1) errors.Add((name, "Give each metadata key once."));
            else if (pairs?.ContainsKey(key) == true) errors.Add((name, "Give each metadata key once."));
            else (pairs ??= [])[key] = values[0] ?? "";
        }
        if (pairs is { Count: > MaxFilters }) errors.Add(("metadata", $"At most {MaxFilters} metadata filters."));
        return pairs;
    }

    /// <summary>No control character and no surrogate outside a pair.</summary>
    private static bool IsText(string key)
    {
        for (var i = 0; i < key.Length; i++)
        {
            if (char.IsControl(key[i])) return false;
            if (char.IsHighSurrogate(key[i]) && i + 1 < key.Length && char.IsLowSurrogate(key[i + 1])) i++;
            else if (char.IsSurrogate(key[i])) return false;
        }
        return true;
    }

    /// <summary>The jsonb an offer's <c>data -> 'metadata'</c> must contain (@>, served by the GIN index on that expression).</summary>
    public static string ToContainment(Dictionary<string, string> pairs) => JsonSerializer.Serialize(pairs);
}
