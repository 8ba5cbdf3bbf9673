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
        HistoryEntry.ReadAsync(template.Id, session);
}
