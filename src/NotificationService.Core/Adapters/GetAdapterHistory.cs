using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Infrastructure;
using NotificationService.Hosting;
using NotificationService.Storage.Adapters;
using Wolverine.Http;

namespace NotificationService.Core.Adapters;

public static class GetAdapterHistoryEndpoint
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
