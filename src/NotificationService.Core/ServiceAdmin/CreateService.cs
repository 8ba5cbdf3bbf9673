using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.ServiceAdmin;

// Nullable so that a missing name is a 422 naming it, not a 400; [Required] keeps it required in the OpenAPI document.
public sealed record CreateService([property: Required] string? Name);

/// <summary>The service's first key is returned here once; only its hash is stored.</summary>
public sealed record ServiceCreated(Guid Id, string Name, Guid KeyId, string ApiKey) : CreatedResource($"/admin/services/{Id}");

public static class CreateServiceEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(CreateService command, IQuerySession session) =>
        ServiceNames.Check(command.Name) is var problem && problem != WolverineContinue.NoProblems ? problem
        : await ServiceNames.CheckFreeAsync(command.Name!, session);

    [WolverinePost("/admin/services", OperationId = "createService")]
    [Tags("Services")]
    [EndpointSummary("Create a service")]
    [EndpointDescription("A client service and its first API key, shown only in this answer.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceCreated, IStartStream, IMartenOp) Post(CreateService command, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var serviceId = Guid.NewGuid();
        var name = command.Name!.Trim();
        var (key, issued, apiKey) = ServiceKey.Issue(serviceId, user.Actor(), now);
        var stream = MartenOps.StartStream<ServiceAccount>(serviceId, new ServiceRegistered(serviceId, name, user.Actor(), now), issued);
        return (new ServiceCreated(serviceId, name, key.KeyId, apiKey), stream, MartenOps.Insert(key));
    }
}
