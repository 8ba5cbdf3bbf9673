using System.ComponentModel.DataAnnotations;
using NotificationService.Core.Auth;
using System.Security.Claims;
using JasperFx.Events;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Limits;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Persistence;

namespace NotificationService.Core.Services;

/// <param name="Limits">the limits the admin set (null: the configured default; GET .../limits shows the ones that apply)</param>
public sealed record ServiceView(
    Guid Id, string Name, ServiceStatus Status, DateTimeOffset CreatedAt, IReadOnlyList<ServiceKeyView> Keys, ServiceLimits Limits)
{
    /// <summary>Shown by GET /admin/services/{id} (not in the list): the retention set for the service and the one in force.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Retention.RetentionView? Retention { get; init; }

    /// <param name="liveKeys">the service's unrevoked keys by key id, for when each was last used</param>
    public static ServiceView From(ServiceAccount s, IReadOnlyDictionary<Guid, ServiceKey> liveKeys) =>
        new(s.Id, s.Name, s.Status, s.CreatedAt, s.Keys
            .Select(k => new ServiceKeyView(k.KeyId, k.Prefix, k.CreatedAt, liveKeys.GetValueOrDefault(k.KeyId)?.LastUsedAt, k.RevokedAt)).ToList(),
            s.Limits);
}

public sealed record ServiceKeyView(Guid KeyId, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

// The only field, so not optional like a patch's: missing, it is a 422 naming it.
public sealed record UpdateService([property: Required] string? Name);

public sealed record KeyIssued(Guid ServiceId, Guid KeyId, string ApiKey) : CreatedResource($"/admin/services/{ServiceId}");

public static class ServiceViews
{
    public static async Task<ServiceView> ForAsync(ServiceAccount service, IQuerySession session)
    {
        var live = (await session.Query<ServiceKey>().Where(k => k.ServiceId == service.Id).ToListAsync()).ToDictionary(k => k.KeyId);
        return ServiceView.From(service, live);
    }
}

public static class ListServicesEndpoint
{
    [WolverineGet("/admin/services", OperationId = "listServices")]
    [Tags("Services")]
    [EndpointSummary("List the services")]
    [EndpointDescription("Every client service, with its status and keys (never the keys themselves).")]
    public static async Task<IReadOnlyList<ServiceView>> Get(IQuerySession session)
    {
        var services = await session.Query<ServiceAccount>().OrderBy(s => s.Name).ToListAsync();
        var keys = (await session.Query<ServiceKey>().ToListAsync()).ToDictionary(k => k.KeyId);
        return services.Select(s => ServiceView.From(s, keys)).ToList();
    }
}

public static class GetServiceEndpoint
{
    [WolverineGet("/admin/services/{id}", OperationId = "getService")]
    [Tags("Services")]
    [EndpointSummary("Get a service")]
    [EndpointDescription("One service: status, keys (ids and times), limits and retention.")]
    public static async Task<ServiceView> Get(Guid id, [Entity] ServiceAccount service, IQuerySession session, Retention.RetentionSettings retention) =>
        await ServiceViews.ForAsync(service, session) with { Retention = Retention.RetentionView.For(service.Retention, retention) };

    [WolverineGet("/admin/services/{id}/history", OperationId = "getServiceHistory")]
    [Tags("Services")]
    [EndpointSummary("Read a service's history")]
    [EndpointDescription("Who created, renamed, blocked the service or issued and revoked its keys, and when.")]
    public static Task<IReadOnlyList<HistoryEntry>> History(Guid id, [Entity] ServiceAccount service, IQuerySession session) =>
        HistoryEntry.ReadAsync(id, session);
}

public sealed record ServiceSummary(Guid Id, string Name, ServiceStatus Status);

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

/// <summary>A blocked service's keys get 403 on every request until it is unblocked; nothing of it is deleted.</summary>
public static class BlockServiceEndpoint
{
    [WolverinePost("/admin/services/{id}/block", OperationId = "blockService")]
    [Tags("Services")]
    [EndpointSummary("Block a service")]
    [EndpointDescription("A blocked service's keys get 403 on every request until it is unblocked; nothing of it is deleted.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceSummary, Events) Block([WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock) =>
        (new ServiceSummary(service.Id, service.Name, ServiceStatus.Blocked),
            service.Status == ServiceStatus.Blocked ? [] : [new ServiceBlocked(service.Id, user.Actor(), clock.GetUtcNow())]);

    [WolverinePost("/admin/services/{id}/unblock", OperationId = "unblockService")]
    [Tags("Services")]
    [EndpointSummary("Unblock a service")]
    [EndpointDescription("The service's keys work again.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceSummary, Events) Unblock([WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock) =>
        (new ServiceSummary(service.Id, service.Name, ServiceStatus.Active),
            service.Status == ServiceStatus.Active ? [] : [new ServiceUnblocked(service.Id, user.Actor(), clock.GetUtcNow())]);
}

/// <summary>Several keys may be live at once, so a key is rotated by issuing the new one before revoking the old.</summary>
public static class IssueServiceKeyEndpoint
{
    [WolverinePost("/admin/services/{id}/keys", OperationId = "issueServiceKey")]
    [Tags("Services")]
    [EndpointSummary("Issue a service key")]
    [EndpointDescription("A new key for the service, shown only in this answer. Several keys may be live at once, so a key is rotated by issuing the new one before revoking the old.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (KeyIssued, Events, IMartenOp) Post([WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock)
    {
        var (key, issued, apiKey) = ServiceKey.Issue(service.Id, user.Actor(), clock.GetUtcNow());
        return (new KeyIssued(service.Id, key.KeyId, apiKey), [issued], MartenOps.Insert(key));
    }
}

public sealed record KeyRevoked(Guid ServiceId, Guid KeyId, DateTimeOffset RevokedAt);

/// <summary>A revoked key gets 401 from its next request on.</summary>
public static class RevokeServiceKeyEndpoint
{
    public static ProblemDetails Validate(Guid keyId, ServiceAccount service) =>
        service.Keys.FirstOrDefault(k => k.KeyId == keyId) is not { } key ? Problems.NotFound("Key")
        : key.RevokedAt is not null ? Problems.Conflict("The key is already revoked.")
        : WolverineContinue.NoProblems;

    [WolverineDelete("/admin/services/{id}/keys/{keyId}", OperationId = "revokeServiceKey")]
    [Tags("Services")]
    [EndpointSummary("Revoke a service key")]
    [EndpointDescription("The key stops working at once; revoking it twice gives 409.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (KeyRevoked, Events, IMartenOp) Delete(Guid keyId, [WriteAggregate] ServiceAccount service, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return (new KeyRevoked(service.Id, keyId, now), [new ServiceKeyRevoked(service.Id, keyId, user.Actor(), now)],
            MartenOps.DeleteWhere<ServiceKey>(k => k.KeyId == keyId));
    }
}
