using System.Text.Json;

namespace NotificationService.Client;

/// <summary>
/// A new template. Each variant (per locale, e.g. "en", "de-AT") is an object shaped like the adapter type's params whose
/// string values are Liquid over an offer's <c>data</c>; a string that is exactly <c>{{ name }}</c> takes that data value as it is.
/// </summary>
public sealed record CreateTemplateRequest(string Key, string Type, string DefaultLocale, IReadOnlyDictionary<string, object> Variants);

/// <summary>201: the template is stored at version 1.</summary>
public sealed record TemplateAdded(Guid Id, string Key, string Type, long Version);

/// <summary>A template as the API shows it; <see cref="Shared"/> ones are the admin's and read-only to a service.</summary>
public sealed record TemplateView(
    Guid Id, string Key, string Type, string DefaultLocale, IReadOnlyDictionary<string, JsonElement> Variants, long Version, bool Shared,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record TemplateSummary(string Key, string Type, string DefaultLocale, IReadOnlyList<string> Locales, long Version, bool Shared, DateTimeOffset UpdatedAt);

/// <summary>A change: a locale in <see cref="Variants"/> replaces that variant (a null value removes it); locales left out stay.</summary>
public sealed record UpdateTemplateRequest
{
    public IReadOnlyDictionary<string, object?>? Variants { get; init; }
    public string? DefaultLocale { get; init; }
}

public sealed record TemplateRemoved(Guid Id, string Key);

/// <summary>Sample data to render with; <see cref="Adapter"/> checks against that adapter's params schema instead of the type's.</summary>
public sealed record PreviewTemplateRequest(object? Data)
{
    public string? Locale { get; init; }
    public string? Adapter { get; init; }
}

/// <summary>What an offer would put in its job's params (nothing was sent).</summary>
public sealed record TemplatePreview(string Key, long Version, string Locale, JsonElement Params);

/// <summary>For a job rendered from a template: which one (its id tells a re-created key apart), at which version and locale.</summary>
public sealed record JobTemplateView(Guid JobId, string Key, long Version, string Locale, bool Shared, Guid? TemplateId = null);

/// <summary>A shared template: visible to <see cref="Services"/> next to their own (their own key wins).</summary>
public sealed record CreateSharedTemplateRequest(string Key, string Type, string DefaultLocale, IReadOnlyDictionary<string, object> Variants, IReadOnlyList<Guid> Services);

public sealed record SharedTemplateAdded(Guid Id, string Key, string Type, long Version);

public sealed record SharedTemplateView(
    Guid Id, string Key, string Type, string DefaultLocale, IReadOnlyDictionary<string, JsonElement> Variants, long Version,
    IReadOnlyList<Guid> Services, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
