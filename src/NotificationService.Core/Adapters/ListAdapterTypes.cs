using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts.AdapterTypes;
using Wolverine.Http;

namespace NotificationService.Core.Adapters;

public sealed record AdapterTypeView(string Name, string Description, JsonElement ConfigSchema, JsonElement ParamsSchema, IReadOnlyList<string> SecretFields);

public static class ListAdapterTypesEndpoint
{
    /// <summary>The adapter types this build knows, with the schema of their config and the default schema of their params.</summary>
    [WolverineGet("/admin/adapter-types", OperationId = "listAdapterTypes")]
    [Tags("Adapters")]
    [EndpointSummary("List the adapter types")]
    [EndpointDescription("The adapter types this build knows, with the JSON Schema of their config and the default schema of their params.")]
    public static IReadOnlyList<AdapterTypeView> Get() => KnownAdapterTypes.All
        .Select(t => new AdapterTypeView(t.Name, t.Description, JsonDocument.Parse(t.ConfigSchema).RootElement,
            JsonDocument.Parse(t.ParamsSchema).RootElement, t.SecretFields)).ToList();
}
