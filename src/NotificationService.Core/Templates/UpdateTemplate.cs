using System.ComponentModel;
using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

/// <summary>Variants is a merge: a locale given replaces that variant (null removes it), locales left out stay.</summary>
public sealed record UpdateTemplate(
    [property: Description("Per locale: the new variant, or null to remove that locale. Locales left out stay as they are.")] Dictionary<string, JsonElement?>? Variants,
    [property: Description("A new default locale (it must have a variant).")] string? DefaultLocale);

public static class UpdateTemplateEndpoint
{
    public static async Task<Template?> LoadAsync(string key, ClaimsPrincipal user, IQuerySession session, HttpContext context)
    {
        var serviceId = user.ServiceId();
        // Only the service's own template changes; a shared one is the admin's.
        return await session.Query<Template>().FirstOrDefaultAsync(t => t.OwnerId == serviceId && t.Key == key, context.RequestAborted);
    }

    public static ProblemDetails Validate(UpdateTemplate command, Template? template)
    {
        if (template is null) return Problems.NotFound("Template");
        var errors = new List<(string, string)>();
        var merged = new Dictionary<string, JsonElement>(template.Variants);
        var removed = new List<string>();
        foreach (var (locale, fields) in command.Variants ?? [])
        {
            if (TemplateInput.Normalize(locale) is not { } tag) { errors.Add(($"variants.{locale}", "Not a locale: use a tag like 'en' or 'de-AT'.")); continue; }
            if (fields is { } given) merged[tag] = given;
            else if (!merged.Remove(tag)) errors.Add(($"variants.{locale}", $"There is no variant '{tag}' to remove."));
        }
        errors.AddRange(TemplateInput.CheckVariants(merged, command.DefaultLocale ?? template.DefaultLocale).Errors);
        return errors.Count > 0 ? Problems.Invalid(errors.ToArray()) : WolverineContinue.NoProblems;
    }

    [WolverinePatch("/v1/templates/{key}", OperationId = "updateTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Change a template")]
    [EndpointDescription("Sets or removes locale variants (a merge: locales left out stay) and may move the default locale. Each change is a new version; jobs accepted earlier keep what they rendered.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (TemplateView, AppendTemplateEvents) Patch(string key, UpdateTemplate command, [NotBody] Template template, ClaimsPrincipal user, TimeProvider clock)
    {
        var (by, at) = (user.Actor(), clock.GetUtcNow());
        var events = new List<object>();
        foreach (var (locale, fields) in command.Variants ?? [])
        {
            var tag = TemplateInput.Normalize(locale)!;
            // An unchanged variant is no new version.
            if (fields is { } given && template.Variants.TryGetValue(tag, out var stored) && JsonElement.DeepEquals(stored, given)) continue;
            events.Add(new TemplateVariantChanged(template.Id, tag, fields?.Clone(), by, at));
        }
        if (TemplateInput.Normalize(command.DefaultLocale) is { } defaultLocale && defaultLocale != template.DefaultLocale)
            events.Add(new TemplateDefaultLocaleChanged(template.Id, defaultLocale, by, at));
        return (TemplateView.From(template.After(events)), new AppendTemplateEvents(template.Id, template.Version, events));
    }
}
