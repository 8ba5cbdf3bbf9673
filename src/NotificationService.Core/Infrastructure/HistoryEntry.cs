using Marten;

namespace NotificationService.Core.Infrastructure;

/// <summary>One event of a stream (a job's lifecycle, or a service's or adapter's admin history), oldest first.</summary>
public sealed record HistoryEntry(long Version, string Type, DateTimeOffset Timestamp, object Data)
{
    public static async Task<IReadOnlyList<HistoryEntry>> ReadAsync(Guid streamId, IQuerySession session, Func<object, object>? redact = null) =>
        (await session.Events.FetchStreamAsync(streamId))
        .Select(e => new HistoryEntry(e.Version, e.EventType.Name, e.Timestamp, redact?.Invoke(e.Data) ?? e.Data)).ToList();
}
