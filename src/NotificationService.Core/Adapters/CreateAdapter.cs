using System.Text.Json;
using System.Text.RegularExpressions;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Adapters;

public sealed record CreateAdapter(string? Name, string? Type, JsonElement Config, JsonElement? ParamsSchema);

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

        var errors = (await schemas.ValidateAsync(type.ConfigSchema, command.Config, "config")).ToList();
        if (command.ParamsSchema is { } paramsSchema && await JsonSchemas.CheckIsSchemaAsync(paramsSchema.GetRawText()) is { } schemaError)
            errors.Add(("paramsSchema", schemaError));
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());

        if (await session.Query<Adapter>().AnyAsync(a => a.Name == command.Name))
            return Problems.Conflict($"An adapter named '{command.Name}' already exists.");
        return WolverineContinue.NoProblems;
    }

    [WolverinePost("/admin/adapters")]
    public static (AdapterCreated, IMartenOp) Post(CreateAdapter command, TimeProvider clock)
    {
        var type = KnownAdapterTypes.Find(command.Type!)!;
        var apiKey = ApiKeys.New(ApiKeys.AdapterPrefix);
        var adapter = new Adapter
        {
            Id = Guid.NewGuid(),
            Name = command.Name!,
            Type = type.Name,
            Config = command.Config,
            ParamsSchema = command.ParamsSchema?.GetRawText() ?? type.ParamsSchema,
            Status = AdapterStatus.Active,
            Queue = Topology.QueueFor(command.Name!),
            KeyHash = ApiKeys.Hash(apiKey),
            CreatedAt = clock.GetUtcNow(),
        };
        var created = new AdapterCreated(adapter.Id, adapter.Name, adapter.Type, adapter.Queue, apiKey);
        return (created, MartenOps.Insert(adapter));
    }
}
