using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public static class DeleteSharedTemplateEndpoint
{
    public static Task<Template?> LoadAsync(Guid id, IQuerySession session) => GetSharedTemplateEndpoint.LoadAsync(id, session);

    public static ProblemDetails Validate(Template? template) => GetSharedTemplateEndpoint.Validate(template);

    [WolverineDelete("/admin/templates/{id}", OperationId = "deleteSharedTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Delete a shared template")]
    [EndpointDescription("Its services no longer see it; jobs already accepted keep what they rendered.")]
    public static (TemplateRemoved, AppendTemplateEvents) Delete(Guid id, [NotBody] Template template, ClaimsPrincipal user, TimeProvider clock) =>
        (new TemplateRemoved(template.Id, template.Key),
         new AppendTemplateEvents(template.Id, template.Version, [new TemplateDeleted(template.Id, user.Actor(), clock.GetUtcNow())]));
}
