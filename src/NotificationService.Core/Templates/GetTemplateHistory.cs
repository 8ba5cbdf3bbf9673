using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public static class GetTemplateHistoryEndpoint
{
    public static Task<Template?> LoadAsync(string key, ClaimsPrincipal user, IQuerySession session, HttpContext context) =>
        TemplateInput.FindVisibleAsync(session, user.ServiceId(), key, context.RequestAborted);

    public static ProblemDetails Validate(Template? template) => template is null ? Problems.NotFound("Template") : WolverineContinue.NoProblems;

    [WolverineGet("/v1/templates/{key}/history", OperationId = "getTemplateHistory")]
    [Tags("Templates")]
    [EndpointSummary("Read a template's history")]
    [EndpointDescription("Every change of the template you see under this key, oldest first: each event is one version (the `version` an offer records).")]
    public static Task<IReadOnlyList<HistoryEntry>> Get(string key, [NotBody] Template template, IQuerySession session) =>
        HistoryEntry.ReadAsync(template.Id, session, template.IsShared ? RedactShared : null);

    /// <summary>
    /// A shared template's history as a service sees it: not which other services it is granted to, nor who of the
    /// operators changed it (both the admin's business; GET /admin/templates/{id} shows the grants).
    /// </summary>
    private static object RedactShared(object data) => data switch
    {
        TemplateCreated e => new { e.TemplateId, e.Key, e.Type, e.DefaultLocale, e.Variants, By = Admin, e.At },
        TemplateVariantChanged e => e with { By = Admin },
        TemplateDefaultLocaleChanged e => e with { By = Admin },
        TemplateDeleted e => e with { By = Admin },
        _ => data,
    };

    private const string Admin = "admin";
}
