using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marten;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Core.Templates;

/// <summary>The checks create, update and the admin's create share: key, type, locales and variants.</summary>
public static partial class TemplateInput
{
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    private static partial Regex ValidKey();

    // A BCP 47 tag as people write them: language, then optional script/region/variant subtags ("de", "de-AT", "zh-Hant-TW").
    [GeneratedRegex("^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
    private static partial Regex ValidLocale();

    public static string? KeyError(string? key) =>
        key is null || !ValidKey().IsMatch(key) ? "Use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit." : null;

    /// <summary>The locale in one spelling ("DE-at" -> "de-AT"), so lookups and fallbacks compare equal; null if it is no locale.</summary>
    public static string? Normalize(string? locale)
    {
        if (locale is null || !ValidLocale().IsMatch(locale)) return null;
        var parts = locale.Split('-');
        parts[0] = parts[0].ToLowerInvariant();
        for (var i = 1; i < parts.Length; i++)
            parts[i] = parts[i].Length == 2 ? parts[i].ToUpperInvariant()
                : parts[i].Length == 4 ? char.ToUpperInvariant(parts[i][0]) + parts[i][1..].ToLowerInvariant()
                : parts[i].ToLowerInvariant();
        return string.Join('-', parts);
    }

    public static string? TypeError(string? type) => KnownAdapterTypes.Find(type ?? "") is null
        ? $"Unknown adapter type. Known: {string.Join(", ", KnownAdapterTypes.All.Select(t => t.Name))}."
        : null;

    /// <summary>
    /// The variants once normalized, or the errors: each locale a valid tag holding a JSON object whose strings parse as
    /// Liquid; the default locale among them; all of them together at most <see cref="TemplateRendering.MaxTemplateBytes"/>.
    /// </summary>
    public static (Dictionary<string, JsonElement> Variants, List<(string, string)> Errors) CheckVariants(
        IEnumerable<KeyValuePair<string, JsonElement>> variants, string? defaultLocale, string defaultLocalePath = "defaultLocale")
    {
        var errors = new List<(string, string)>();
        var normalized = new Dictionary<string, JsonElement>();
        foreach (var (locale, fields) in variants)
        {
            var path = $"variants.{locale}";
            if (Normalize(locale) is not { } tag) { errors.Add((path, "Not a locale: use a tag like 'en' or 'de-AT'.")); continue; }
            if (!normalized.TryAdd(tag, fields)) { errors.Add((path, $"'{tag}' is given twice.")); continue; }
            if (fields.ValueKind != JsonValueKind.Object) { errors.Add((path, "must be an object of the adapter type's params (string values are Liquid)")); continue; }
            errors.AddRange(TemplateRendering.ParseErrors(fields, path));
        }
        if (normalized.Count == 0 && errors.Count == 0) errors.Add(("variants", "At least one locale is required."));
        if (Normalize(defaultLocale) is not { } defaultTag) errors.Add((defaultLocalePath, "is required: a locale like 'en' or 'de-AT'."));
        else if (normalized.Count > 0 && !normalized.ContainsKey(defaultTag)) errors.Add((defaultLocalePath, $"'{defaultTag}' has no variant."));
        var size = normalized.Sum(v => Encoding.UTF8.GetByteCount(v.Key) + Encoding.UTF8.GetByteCount(v.Value.GetRawText()));
        if (size > TemplateRendering.MaxTemplateBytes)
            errors.Add(("variants", $"At most {TemplateRendering.MaxTemplateBytes} bytes of JSON for all locales together; these are {size}."));
        return (normalized, errors);
    }

    /// <summary>The template a service means by <paramref name="key"/>: its own, else a shared one granted to it.</summary>
    public static async Task<Template?> FindVisibleAsync(IQuerySession session, Guid serviceId, string key, CancellationToken cancellation = default) =>
        Visible(await session.Query<Template>()
            .Where(t => t.Key == key && (t.OwnerId == serviceId || (t.OwnerId == Guid.Empty && t.SharedWith.Contains(serviceId))))
            .ToListAsync(cancellation), serviceId).GetValueOrDefault(key);

    /// <summary>Every template named by <paramref name="keys"/> that the service sees, in one query; its own key wins over a shared one.</summary>
    public static async Task<IReadOnlyDictionary<string, Template>> LoadVisibleAsync(IQuerySession session, Guid serviceId, IReadOnlyCollection<string> keys)
    {
        if (keys.Count == 0) return new Dictionary<string, Template>();
        var array = keys.ToArray();
        return Visible(await session.Query<Template>()
            .Where(t => array.Contains(t.Key) && (t.OwnerId == serviceId || (t.OwnerId == Guid.Empty && t.SharedWith.Contains(serviceId))))
            .ToListAsync(), serviceId);
    }

    private static Dictionary<string, Template> Visible(IEnumerable<Template> found, Guid serviceId) =>
        found.GroupBy(t => t.Key).ToDictionary(g => g.Key, g => g.OrderBy(t => t.OwnerId == serviceId ? 0 : 1).First());
}
