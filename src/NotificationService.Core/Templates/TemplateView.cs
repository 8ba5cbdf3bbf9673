using System.Text.Json;
using Marten;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Templates;

/// <summary>A template as the API shows it; <c>shared</c> ones come from the admin and are read-only to services.</summary>
public sealed record TemplateView(
    Guid Id, string Key, string Type, string DefaultLocale, IReadOnlyDictionary<string, JsonElement> Variants, long Version, bool Shared,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static TemplateView From(Template t) => new(t.Id, t.Key, t.Type, t.DefaultLocale, t.Variants, t.Version, t.IsShared, t.CreatedAt, t.UpdatedAt);
}

/// <summary>A shared template as the admin sees it: with the services it is granted to.</summary>
public sealed record SharedTemplateView(
    Guid Id, string Key, string Type, string DefaultLocale, IReadOnlyDictionary<string, JsonElement> Variants, long Version,
    IReadOnlyList<Guid> Services, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static SharedTemplateView From(Template t) => new(t.Id, t.Key, t.Type, t.DefaultLocale, t.Variants, t.Version, t.SharedWith, t.CreatedAt, t.UpdatedAt);
}

/// <summary>Appends a loaded template's events expecting the version it was loaded at: a concurrent change makes this one a 409.</summary>
public sealed record AppendTemplateEvents(Guid TemplateId, long LoadedVersion, IReadOnlyList<object> Events) : Wolverine.Marten.IMartenOp
{
    public void Execute(IDocumentSession session)
    {
        if (Events.Count > 0) session.Events.Append(TemplateId, LoadedVersion + Events.Count, Events.ToArray());
    }
}
