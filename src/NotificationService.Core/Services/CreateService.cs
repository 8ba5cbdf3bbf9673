using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Services;

public sealed record CreateService(string? Name);

/// <summary>The service's first key is returned here once; only its hash is stored.</summary>
public sealed record ServiceCreated(Guid Id, string Name, Guid KeyId, string ApiKey) : CreatedResource($"/admin/services/{Id}");

public static class CreateServiceEndpoint
{
    public static ProblemDetails Validate(CreateService command) =>
        string.IsNullOrWhiteSpace(command.Name) || command.Name.Length > 100
            ? Problems.Invalid(("name", "A name of 1 to 100 characters is required."))
            : WolverineContinue.NoProblems;

    [WolverinePost("/admin/services")]
    public static (ServiceCreated, IMartenOp, IMartenOp) Post(CreateService command, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var service = new ServiceAccount { Id = Guid.NewGuid(), Name = command.Name!.Trim(), Status = ServiceStatus.Active, CreatedAt = now };
        var apiKey = ApiKeys.New(ApiKeys.ServicePrefix);
        var key = new ServiceKey { Id = ApiKeys.Hash(apiKey), KeyId = Guid.NewGuid(), ServiceId = service.Id, CreatedAt = now };

        var created = new ServiceCreated(service.Id, service.Name, key.KeyId, apiKey);
        return (created, MartenOps.Insert(service), MartenOps.Insert(key));
    }
}
