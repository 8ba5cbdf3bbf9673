using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.ServiceAdmin;

// The only field, so not optional like a patch's: missing, it is a 422 naming it.
public sealed record UpdateService([property: Required] string? Name);

public static class UpdateServiceEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(UpdateService command, ServiceAccount service, IQuerySession session) =>
        ServiceNames.Check(command.Name) is var problem && problem != WolverineContinue.NoProblems ? problem
        : await ServiceNames.CheckFreeAsync(command.Name!, session, renamed: service.Id);

    [WolverinePatch("/admin/services/{id}", OperationId = "updateService")]
    [Tags("Services")]
    [EndpointSummary("Rename a service")]
    [EndpointDescription("Changes the service's name (unique).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceSummary, Events) Patch(UpdateService command, [WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock)
    {
        var name = command.Name!.Trim();
        return name == service.Name
            ? (new ServiceSummary(service.Id, name, service.Status), [])
            : (new ServiceSummary(service.Id, name, service.Status), [new ServiceRenamed(service.Id, name, user.Actor(), clock.GetUtcNow())]);
    }
}
