using JasperFx.Events.Daemon;
using Marten;
using Wolverine.Http;

namespace NotificationService.Core.Operations;

/// <param name="Sequence">the last event sequence the projection (or subscription) has processed</param>
/// <param name="Lag">events it is behind the store's high-water mark (Marten's "gap")</param>
public sealed record ProjectionProgress(string Name, long Sequence, long Lag);

/// <param name="HighWaterMark">the highest event sequence committed to the store</param>
/// <param name="Rebuilding">a rebuild holds the lock now: its shards' sequences climb towards the high-water mark</param>
public sealed record ProjectionsStatus(long HighWaterMark, bool Rebuilding, IReadOnlyList<ProjectionProgress> Projections);

public static class GetProjectionsEndpoint
{
    [WolverineGet("/admin/projections", OperationId = "getProjections")]
    [Tags("Operations")]
    [EndpointSummary("Projection progress and lag")]
    [EndpointDescription("Each asynchronous projection's and subscription's progress (the status callbacks' subscription; a rebuild's shards while it runs) from Marten's progression table, and its lag behind the event store's high-water mark; whether a rebuild is running.")]
    public static async Task<ProjectionsStatus> Get(IDocumentStore store, IQuerySession session, CancellationToken ct)
    {
        var statistics = await store.Advanced.FetchEventStoreStatistics(token: ct);
        var highWaterMark = statistics.EventSequenceNumber;
        var shards = await store.Advanced.AllProjectionProgress(token: ct);
        return new ProjectionsStatus(highWaterMark, await RebuildLock.IsHeldAsync(session, ct),
            // The daemon keeps its own high-water rows ("HighWaterMark", per tenant "HighWaterMark:<id>") with the projections'.
            shards.Where(s => !s.ShardName.StartsWith("HighWaterMark", StringComparison.Ordinal))
                .Select(s => new ProjectionProgress(s.ShardName, s.Sequence, Math.Max(0, highWaterMark - s.Sequence))).OrderBy(p => p.Name).ToList());
    }
}
