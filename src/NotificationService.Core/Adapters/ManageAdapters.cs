using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Hosting;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Persistence;

namespace NotificationService.Core.Adapters;

public sealed record AdapterTypeView(string Name, string Description, JsonElement ConfigSchema, JsonElement ParamsSchema, IReadOnlyList<string> SecretFields);

public static class AdapterTypesEndpoint
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

public static class GetAdaptersEndpoint
{
    /// <summary>Every adapter in the system, blocked ones included.</summary>
    [WolverineGet("/admin/adapters", OperationId = "listAllAdapters")]
    [Tags("Adapters")]
    [EndpointSummary("List all adapters")]
    [EndpointDescription("Every adapter in the system, blocked ones included, by name.")]
    public static async Task<IReadOnlyList<AdapterView>> List(IQuerySession session) =>
        (await session.Query<Adapter>().OrderBy(a => a.Name).ToListAsync()).Select(AdapterView.From).ToList();

    [WolverineGet("/admin/adapters/{id}", OperationId = "getAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Get an adapter")]
    [EndpointDescription("One adapter: its config without secrets, params schema, policy, status and the services allowed to use it.")]
    public static AdapterView Get(Guid id, [Entity] Adapter adapter) => AdapterView.From(adapter);
}

public static class AdapterHistoryEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(Guid id, IQuerySession session) =>
        await session.Events.FetchStreamStateAsync(id) is null ? Problems.NotFound("Adapter") : WolverineContinue.NoProblems;

    /// <summary>Who changed what and when, also after the adapter was deleted; config shown without secrets, key hash never.</summary>
    [WolverineGet("/admin/adapters/{id}/history", OperationId = "getAdapterHistory")]
    [Tags("Adapters")]
    [EndpointSummary("Read an adapter's history")]
    [EndpointDescription("Who changed what and when, also after the adapter was deleted; config shown without secrets, the key hash never.")]
    public static Task<IReadOnlyList<HistoryEntry>> Get(Guid id, IQuerySession session) => HistoryEntry.ReadAsync(id, session, Redact);

    private static object Redact(object data) => data switch
    {
        AdapterRegistered e => new { e.AdapterId, e.Name, e.Type, Config = AdapterSecrets.Redact(KnownAdapterTypes.Find(e.Type), e.Config),
            e.Queue, e.Policy, e.AllowedServices, e.By, e.At },
        AdapterReconfigured e => new { e.AdapterId, ConfigChanged = e.Config is not null, ParamsSchemaChanged = e.ParamsSchema is not null,
            e.Policy, e.AllowedServices, e.By, e.At },
        _ => data,
    };
}

/// <summary>Config and policy are JSON merge patches (RFC 7396) of the stored ones; paramsSchema and services replace.</summary>
public sealed record UpdateAdapter(JsonElement? Config, JsonElement? ParamsSchema, List<Guid>? Services, JsonElement? Policy);

/// <summary>
/// Reconfigures an adapter. Fields of config and policy that the patch leaves out keep their value (secrets included);
/// what is checked is the result. Clients see a new params schema at once; running workers pick up a new config or
/// policy when they restart.
/// </summary>
public static class UpdateAdapterEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(
        UpdateAdapter command, Adapter adapter, AdapterSecrets secrets, JsonSchemas schemas, IQuerySession session)
    {
        var errors = new List<(string, string)>();
        // The merged config is checked with the stored secrets decrypted, exactly as the worker will read it.
        var config = command.Config is { } patch ? JsonMergePatch.Apply(secrets.Unprotect(adapter.Config), patch) : (JsonElement?)null;
        DeliveryPolicy? policy = null;
        if (command.Policy is { } policyPatch)
        {
            (policy, var policyErrors) = AdapterInput.MergePolicy(adapter.Policy, policyPatch);
            errors.AddRange(policyErrors);
        }
        errors.AddRange(await AdapterInput.CheckAsync(KnownAdapterTypes.Find(adapter.Type)!, config, command.ParamsSchema, command.Services,
            policy, schemas, session));
        return errors.Count > 0 ? Problems.Invalid(errors.ToArray()) : WolverineContinue.NoProblems;
    }

    [WolverinePatch("/admin/adapters/{id}", OperationId = "updateAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Change an adapter")]
    [EndpointDescription("Config and policy are JSON merge patches (RFC 7396) of the stored ones; paramsSchema and services replace theirs.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterView, Events) Patch(
        UpdateAdapter command, [WriteAggregate] Adapter adapter, AdapterSecrets secrets, ClaimsPrincipal user, TimeProvider clock)
    {
        var type = KnownAdapterTypes.Find(adapter.Type)!;
        // Secrets in the patch are encrypted before it is merged, so the stored (encrypted) ones it leaves out stay as they are.
        var reconfigured = new AdapterReconfigured(adapter.Id,
            command.Config is { } config ? JsonMergePatch.Apply(adapter.Config, secrets.Protect(type, config)) : null,
            command.ParamsSchema?.GetRawText(),
            command.Policy is { } policy ? AdapterInput.MergePolicy(adapter.Policy, policy).Policy : null,
            command.Services, user.Actor(), clock.GetUtcNow());
        adapter.Apply(reconfigured);
        return (AdapterView.From(adapter), [reconfigured]);
    }
}

/// <summary>
/// A blocked adapter refuses new offers at once; its workers stop taking jobs within seconds and resume on unblock.
/// Jobs already in its queue wait there (and expire when their time runs out).
/// </summary>
public static class BlockAdapterEndpoint
{
    [WolverinePost("/admin/adapters/{id}/block", OperationId = "blockAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Block an adapter")]
    [EndpointDescription("New offers to a blocked adapter are refused and its workers stop taking jobs; jobs already in its queue wait there (and expire when their time runs out).")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterView, Events) Block([WriteAggregate] Adapter adapter, ClaimsPrincipal user, TimeProvider clock)
    {
        if (adapter.Status == AdapterStatus.Blocked) return (AdapterView.From(adapter), []);
        var blocked = new AdapterBlocked(adapter.Id, user.Actor(), clock.GetUtcNow());
        adapter.Apply(blocked);
        return (AdapterView.From(adapter), [blocked]);
    }

    [WolverinePost("/admin/adapters/{id}/unblock", OperationId = "unblockAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Unblock an adapter")]
    [EndpointDescription("The adapter takes offers again and its workers resume.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterView, Events) Unblock([WriteAggregate] Adapter adapter, ClaimsPrincipal user, TimeProvider clock)
    {
        if (adapter.Status == AdapterStatus.Active) return (AdapterView.From(adapter), []);
        var unblocked = new AdapterUnblocked(adapter.Id, user.Actor(), clock.GetUtcNow());
        adapter.Apply(unblocked);
        return (AdapterView.From(adapter), [unblocked]);
    }
}

public sealed record AdapterRemoved(Guid Id, string Name);

/// <summary>Deletes an adapter that has no unfinished jobs; its history stays readable.</summary>
public static class DeleteAdapterEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(Adapter adapter, IQuerySession session)
    {
        var unfinished = await session.Query<Job>().CountAsync(j => j.AdapterId == adapter.Id
            && (j.State == JobState.Scheduled || j.State == JobState.Queued || j.State == JobState.Started));
        return unfinished > 0
            ? Problems.Conflict($"The adapter has {unfinished} unfinished jobs; cancel them or let them end first.")
            : WolverineContinue.NoProblems;
    }

    [WolverineDelete("/admin/adapters/{id}", OperationId = "deleteAdapter")]
    [Tags("Adapters")]
    [EndpointSummary("Delete an adapter")]
    [EndpointDescription("Only an adapter with no unfinished jobs can be deleted (409 otherwise); its history stays readable.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (AdapterRemoved, Events) Delete([WriteAggregate] Adapter adapter, ClaimsPrincipal user, TimeProvider clock) =>
        (new AdapterRemoved(adapter.Id, adapter.Name), [new AdapterDeleted(adapter.Id, user.Actor(), clock.GetUtcNow())]);
}

public sealed record ClientAdapterView(string Name, string Type, JsonElement ParamsSchema);

public static class ClientAdaptersEndpoint
{
    /// <summary>The active adapters this service may use, with the schema its params must follow.</summary>
    [WolverineGet("/v1/adapters", OperationId = "listAdapters")]
    [Tags("Adapters")]
    [EndpointSummary("List the adapters you may use")]
    [EndpointDescription("The active adapters this service may use, each with the JSON Schema its `params` must follow in `POST /v1/offers`.")]
    public static async Task<IReadOnlyList<ClientAdapterView>> Get(ClaimsPrincipal user, IQuerySession session)
    {
        var serviceId = user.ServiceId();
        return (await session.Query<Adapter>().Where(a => a.Status == AdapterStatus.Active).OrderBy(a => a.Name).ToListAsync())
            .Where(a => a.MayBeUsedBy(serviceId))
            .Select(a => new ClientAdapterView(a.Name, a.Type, JsonDocument.Parse(a.ParamsSchema).RootElement)).ToList();
    }
}
