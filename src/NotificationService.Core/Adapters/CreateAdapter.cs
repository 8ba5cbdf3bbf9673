using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text.Json;
using System.Text.RegularExpressions;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Hosting;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Adapters;

public sealed record CreateAdapter(
    [property: Required] string? Name, [property: Required] string? Type, [property: Required] JsonElement Config, JsonElement? ParamsSchema, List<Guid>? Services, DeliveryPolicy? Policy);

/// <summary>The worker key is returned here once; operations start the adapter's workers with it.</summary>
public sealed record AdapterCreated(Guid Id, string Name, string Type, string Queue, string ApiKey) : CreatedResource($"/admin/adapters/{Id}");

public static partial class CreateAdapterEndpoint
{
    // The name becomes part of the queue name, so it keeps to characters every broker tool shows plainly.
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,62}$")]
    private static partial Regex ValidName();

    public static async Task<ProblemDetails> ValidateAsync(CreateAdapter command, JsonSchemas schemas, IQuerySession session)
    {
        if (command.Name is null || !ValidName().IsMatch(command.Name))
            return Problems.Invalid(("name", "Use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."));
        var type = KnownAdapterTypes.Find(command.Type ?? "");
        if (type is null)
            return Problems.Invalid(("type", $"Unknown adapter type. Known: {string.Join(", ", KnownAdapterTypes.All.Select(t => t.Name))}."));

        var errors = await AdapterInput.CheckAsync(type, command.Config, command.ParamsSchema, command.Services, command.Policy, schemas, session, command.Name);
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());
        if (await session.Query<Adapter>().AnyAsync(a => a.Name == command.Name))
            return Problems.Conflict($"An adapter named '{command.Name}' already exists.");
        return WolverineContinue.NoProblems;
    }

    [WolverinePost("/admin/adapters", OperationId = "createAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Create an adapter")]
    [EndpointDescription("Registers a delivery channel of a known type with its config (secrets are stored encrypted and never shown again). The answer carries the adapter's key, shown only here: its workers use it.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterCreated, IStartStream) Post(CreateAdapter command, AdapterSecrets secrets, ClaimsPrincipal user, TimeProvider clock)
    {
        var type = KnownAdapterTypes.Find(command.Type!)!;
        var apiKey = ApiKeys.New(ApiKeys.AdapterPrefix);
        var id = Guid.NewGuid();
        var registered = new AdapterRegistered(id, command.Name!, type.Name, secrets.Protect(type, command.Config),
            command.ParamsSchema?.GetRawText() ?? type.ParamsSchema, Topology.QueueFor(command.Name!), ApiKeys.Hash(apiKey),
            command.Policy ?? new DeliveryPolicy(), command.Services ?? [], user.Actor(), clock.GetUtcNow());
        return (new AdapterCreated(id, registered.Name, type.Name, registered.Queue, apiKey), MartenOps.StartStream<Adapter>(id, registered));
    }
}
