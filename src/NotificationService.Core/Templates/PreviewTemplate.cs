using System.ComponentModel;
using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Limits;
using NotificationService.Storage.Adapters;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public sealed record PreviewTemplate(
    [property: Description("The locale to render (falls back to its language, then the template's default).")] string? Locale,
    [property: Description("Sample data: the template's variables.")] JsonElement Data,
    [property: Description("Check the result against this adapter's params schema instead of the type's default one.")] string? Adapter);

/// <summary>What an offer with this template would put in its job's params; nothing is sent or stored.</summary>
public sealed record TemplatePreview(string Key, long Version, string Locale, JsonElement Params);

public sealed record PreviewContext(Template? Template, Adapter? Adapter)
{
    /// <summary>What Validate rendered and checked; Post answers with it rather than rendering a second time.</summary>
    public TemplateRendering.Result? Rendered { get; set; }
}

public static class PreviewTemplateEndpoint
{
    public static async Task<PreviewContext> LoadAsync(string key, PreviewTemplate command, ClaimsPrincipal user, IQuerySession session, HttpContext context)
    {
        var template = await TemplateInput.FindVisibleAsync(session, user.ServiceId(), key, context.RequestAborted);
        var adapter = command.Adapter is { } name ? await session.Query<Adapter>().FirstOrDefaultAsync(a => a.Name == name, context.RequestAborted) : null;
        return new PreviewContext(template, adapter);
    }

    public static async Task<ProblemDetails> ValidateAsync(
        PreviewTemplate command, PreviewContext loaded, ClaimsPrincipal user, JsonSchemas schemas, HttpContext httpContext, LimitDefaults defaults)
    {
        if (loaded.Template is not { } template) return Problems.NotFound("Template");
        if (command.Locale is not null && TemplateInput.Normalize(command.Locale) is null) return Problems.Invalid(("locale", "Not a locale: use a tag like 'en' or 'de-AT'."));
        string schema;
        if (command.Adapter is { } name)
        {
            if (loaded.Adapter is not { } adapter || !adapter.MayBeUsedBy(user.ServiceId()))
                return Problems.Invalid(("adapter", $"No adapter named '{name}' is available to this service."));
            if (!string.Equals(adapter.Type, template.Type, StringComparison.OrdinalIgnoreCase))
                return Problems.Invalid(("adapter", $"Adapter '{name}' is of type {adapter.Type}; the template renders {template.Type} params."));
            schema = adapter.ParamsSchema;
        }
        else schema = KnownAdapterTypes.Find(template.Type)!.ParamsSchema;

        var result = await TemplateRendering.RenderCheckedAsync(template, command.Locale, command.Data, "", schema, httpContext.LimitsOf(defaults), schemas);
        loaded.Rendered = result;
        return result.Ok ? WolverineContinue.NoProblems : Problems.Invalid(result.Errors.ToArray());
    }

    [WolverinePost("/v1/templates/{key}/preview", OperationId = "previewTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Preview a template")]
    [EndpointDescription("Renders the template with sample data and checks the result against the adapter type's params schema (or the named adapter's), exactly as an offer would; sends nothing. Errors are a 422 keyed like an offer's (`template.html`, with the Liquid line and column).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static TemplatePreview Post(string key, PreviewTemplate command, PreviewContext loaded)
    {
        var template = loaded.Template!;
        var result = loaded.Rendered!;
        return new TemplatePreview(template.Key, template.Version, result.Locale, result.Params);
    }
}
