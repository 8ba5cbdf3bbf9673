using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public sealed record TemplateRemoved(Guid Id, string Key);

/// <summary>Jobs rendered from it keep their params; its history stays readable by id for the admin.</summary>
public static class DeleteTemplateEndpoint
{
    public static Task<Template?> LoadAsync(string key, ClaimsPrincipal user, IQuerySession session, HttpContext context) =>
        UpdateTemplateEndpoint.LoadAsync(key, user, session, context);

    public static ProblemDetails Validate(Template? template) => template is null ? Problems.NotFound("Template") : WolverineContinue.NoProblems;

    [WolverineDelete("/v1/templates/{key}", OperationId = "deleteTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Delete a template")]
    [EndpointDescription("Deletes your template with this key (a shared one cannot be deleted by a service). Jobs already accepted keep what they rendered.")]
    public static (TemplateRemoved, AppendTemplateEvents) Delete(string key, [NotBody] Template template, ClaimsPrincipal user, TimeProvider clock) =>
        (new TemplateRemoved(template.Id, template.Key),
         new AppendTemplateEvents(template.Id, template.Version, [new TemplateDeleted(template.Id, user.Actor(), clock.GetUtcNow())]));
}
