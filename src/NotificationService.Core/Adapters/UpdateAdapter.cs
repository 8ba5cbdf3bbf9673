using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Hosting;
using NotificationService.Storage.Adapters;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Adapters;

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
            policy, schemas, session, adapter.Name));
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
        return (AdapterView.From(adapter.After(reconfigured)), [reconfigured]);
    }
}
