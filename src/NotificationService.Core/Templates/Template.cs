using System.Text.Json;
using Marten;

namespace NotificationService.Core.Templates;

// A template's stream is its history. Every event is a new version at once: there is no draft/publish step, because
// an offer records the version it rendered (so an edit never reaches an old job) and POST .../preview is the place to
// try a change before it is used; a "published" flag would only add a second, unsent copy of the same thing.

/// <summary><see cref="OwnerId"/> is the service; <see cref="Guid.Empty"/> for a shared (admin) template.</summary>
public sealed record TemplateCreated(
    Guid TemplateId, string Key, Guid OwnerId, string Type, string DefaultLocale, IReadOnlyDictionary<string, JsonElement> Variants,
    IReadOnlyList<Guid> SharedWith, string By, DateTimeOffset At);

/// <summary>One locale's fields set (added or replaced), or removed when <see cref="Fields"/> is null.</summary>
public sealed record TemplateVariantChanged(Guid TemplateId, string Locale, JsonElement? Fields, string By, DateTimeOffset At);

public sealed record TemplateDefaultLocaleChanged(Guid TemplateId, string Locale, string By, DateTimeOffset At);

public sealed record TemplateDeleted(Guid TemplateId, string By, DateTimeOffset At);

/// <summary>
/// A template: per locale, a JSON object of the adapter type's params whose string values are Liquid (see
/// <see cref="TemplateRendering"/>). The inline projection of its stream; <see cref="Version"/> is the stream's version.
/// </summary>
public sealed class Template
{
    public Guid Id { get; set; }
    public string Key { get; set; } = "";
    public Guid OwnerId { get; set; }
    public string Type { get; set; } = "";
    public string DefaultLocale { get; set; } = "";
    public Dictionary<string, JsonElement> Variants { get; set; } = [];
    /// <summary>For a shared template: the services that see it.</summary>
    public List<Guid> SharedWith { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    [Marten.Schema.Version] public long Version { get; set; }

    public bool IsShared => OwnerId == Guid.Empty;

    public void Apply(TemplateCreated e)
    {
        (Id, Key, OwnerId, Type, DefaultLocale) = (e.TemplateId, e.Key, e.OwnerId, e.Type, e.DefaultLocale);
        (Variants, SharedWith, CreatedAt, UpdatedAt) = (new Dictionary<string, JsonElement>(e.Variants), e.SharedWith.ToList(), e.At, e.At);
    }

    public void Apply(TemplateVariantChanged e)
    {
        if (e.Fields is { } fields) Variants[e.Locale] = fields;
        else Variants.Remove(e.Locale);
        UpdatedAt = e.At;
    }

    public void Apply(TemplateDefaultLocaleChanged e) => (DefaultLocale, UpdatedAt) = (e.Locale, e.At);
    public bool ShouldDelete(TemplateDeleted e) => true;

    /// <summary>The template as it is once <paramref name="changes"/> are stored (what PATCH answers with); this copy stays as it is.</summary>
    public Template After(IReadOnlyList<object> changes)
    {
        var next = (Template)MemberwiseClone();
        next.Variants = new Dictionary<string, JsonElement>(Variants);
        foreach (var change in changes)
            switch (change)
            {
                case TemplateVariantChanged e: next.Apply(e); break;
                case TemplateDefaultLocaleChanged e: next.Apply(e); break;
                default: throw new ArgumentException($"{change.GetType().Name} does not change a template in place.", nameof(changes));
            }
        next.Version = Version + changes.Count;
        return next;
    }

    /// <summary>
    /// The variant for <paramref name="locale"/>: the exact locale, then its language ("de-AT" -> "de"), then the default.
    /// The locale is compared in its normal spelling ("DE-at" is "de-AT"), as the variants' locales are stored.
    /// </summary>
    public (string Locale, JsonElement Fields) VariantFor(string? locale)
    {
        locale = TemplateInput.Normalize(locale);
        if (locale is { Length: > 0 })
        {
            if (Variants.TryGetValue(locale, out var exact)) return (locale, exact);
            var dash = locale.IndexOf('-');
            if (dash > 0 && Variants.TryGetValue(locale[..dash], out var language)) return (locale[..dash], language);
        }
        return (DefaultLocale, Variants[DefaultLocale]);
    }
}

public static class TemplateStorage
{
    public static StoreOptions AddTemplateStorage(this StoreOptions opts)
    {
        opts.Projections.Snapshot<Template>(JasperFx.Events.Projections.SnapshotLifecycle.Inline);
        // A key is unique per owner (all shared templates have the one owner Guid.Empty); a deleted template's row is
        // gone, so its key may be used again by a new template (a new stream).
        opts.Schema.For<Template>().UniqueIndex(x => x.OwnerId, x => x.Key);
        return opts;
    }
}
