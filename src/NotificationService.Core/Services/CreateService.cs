using System.ComponentModel.DataAnnotations;
using NotificationService.Core.Auth;
using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Services;

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

/// <summary>
/// A service's name is how people tell tenants apart, so it is unique (after trimming). The check here gives the clear
/// answer; the unique index on the ServiceAccount document decides a race, whose loser gets 409 from its commit.
/// </summary>
public static class ServiceNames
{
    public static async Task<ProblemDetails> CheckFreeAsync(string name, IQuerySession session, Guid? renamed = null)
    {
        var trimmed = name.Trim();
        return await session.Query<ServiceAccount>().AnyAsync(s => s.Name == trimmed && s.Id != renamed)
            ? Problems.Conflict($"A service named '{trimmed}' already exists.")
            : WolverineContinue.NoProblems;
    }


    public static ProblemDetails Check(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > 100
            ? Problems.Invalid(("name", "A name of 1 to 100 characters is required."))
            : WolverineContinue.NoProblems;
}
