using NotificationService.Core.Auth;
using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Services;

public sealed record CreateService(string? Name);

/// <summary>The service's first key is returned here once; only its hash is stored.</summary>
public sealed record ServiceCreated(Guid Id, string Name, Guid KeyId, string ApiKey) : CreatedResource($"/admin/services/{Id}");

public static class CreateServiceEndpoint
{
    public static ProblemDetails Validate(CreateService command) => ServiceNames.Check(command.Name);

    [WolverinePost("/admin/services")]
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

public static class ServiceNames
{
    public static ProblemDetails Check(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > 100
            ? Problems.Invalid(("name", "A name of 1 to 100 characters is required."))
            : WolverineContinue.NoProblems;
}
