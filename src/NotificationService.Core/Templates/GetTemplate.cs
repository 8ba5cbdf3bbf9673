using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public static class GetTemplateEndpoint
{
    public static Task<Template?> LoadAsync(string key, ClaimsPrincipal user, IQuerySession session, HttpContext context) =>
        TemplateInput.FindVisibleAsync(session, user.ServiceId(), key, context.RequestAborted);

    public static ProblemDetails Validate(Template? template) => template is null ? Problems.NotFound("Template") : WolverineContinue.NoProblems;

    [WolverineGet("/v1/templates/{key}", OperationId = "getTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Get a template")]
    [EndpointDescription("Your template with this key, or else a shared one granted to you (`shared: true`): your own key wins over a shared one.")]
    public static TemplateView Get(string key, [NotBody] Template template) => TemplateView.From(template);
}
