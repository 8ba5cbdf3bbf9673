using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public static class GetSharedTemplateEndpoint
{
    public static Task<Template?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Template>(id);

    public static ProblemDetails Validate(Template? template) =>
        template is { IsShared: true } ? WolverineContinue.NoProblems : Problems.NotFound("Shared template");

    [WolverineGet("/admin/templates/{id}", OperationId = "getSharedTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Get a shared template")]
    [EndpointDescription("One shared template with its variants and the services it is granted to.")]
    public static SharedTemplateView Get(Guid id, [NotBody] Template template) => SharedTemplateView.From(template);
}
