using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Templates;

public static class ListSharedTemplatesEndpoint
{
    public static ProblemDetails Validate(int? page, int? pageSize) => Paging.Check(page, pageSize) ?? WolverineContinue.NoProblems;

    [WolverineGet("/admin/templates", OperationId = "listSharedTemplates")]
    [Tags("Templates")]
    [EndpointSummary("List shared templates")]
    [EndpointDescription("The shared templates, by key, paged, with the services each is granted to.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static Task<PagedResult<SharedTemplateView>> Get(int? page, int? pageSize, HttpContext context, IQuerySession session) =>
        session.Query<Template>().Where(t => t.OwnerId == Guid.Empty)
            .PageAsync(session, q => q.OrderBy(t => t.Key), page, pageSize, SharedTemplateView.From, context.RequestAborted);
}
