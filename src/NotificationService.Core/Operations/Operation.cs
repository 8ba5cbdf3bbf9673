using System.Text.Json;

namespace NotificationService.Core.Operations;

public enum OperationKind { Replay, Discard, Redrive, Rebuild }

public enum OperationStatus { Running, Done }

/// <summary>An operator started an action: who (their key's actor name), when, on what (the selection, as sent) and how many items.</summary>
public sealed record OperationStarted(Guid OperationId, OperationKind Kind, string By, DateTimeOffset StartedAt, JsonElement Selection, int Total);

/// <summary>A batch of the action ran: items done and failed in it (added to the totals), and where the next batch starts.</summary>
/// <param name="CursorSentAt">with <paramref name="Cursor"/>, where a walk over dead letters (by send time, then id) stands</param>
public sealed record OperationProgressed(Guid OperationId, int Done, int Failed, Guid? Cursor, DateTimeOffset At, DateTimeOffset? CursorSentAt = null);

public sealed record OperationFinished(Guid OperationId, DateTimeOffset FinishedAt, string? Outcome = null);

/// <summary>
/// An operator's action (dead-letter replay or discard, job re-drive, projection rebuild) as the inline projection of its
/// own event stream: the audit record of who did what and when, and the progress of a long one. One stream per action,
/// so concurrent actions never contend for one stream's version.
/// </summary>
public sealed class Operation
{
    public Guid Id { get; set; }
    public OperationKind Kind { get; set; }
    public string By { get; set; } = "";
    public DateTimeOffset StartedAt { get; set; }
    public JsonElement Selection { get; set; }
    public int Total { get; set; }
    public int Done { get; set; }
    public int Failed { get; set; }
    public Guid? Cursor { get; set; }
    public DateTimeOffset? CursorSentAt { get; set; }
    public OperationStatus Status { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Outcome { get; set; }
    [Marten.Schema.Version] public long Version { get; set; }

    public void Apply(OperationStarted e) =>
        (Id, Kind, By, StartedAt, Selection, Total, Status) = (e.OperationId, e.Kind, e.By, e.StartedAt, e.Selection, e.Total, OperationStatus.Running);
    public void Apply(OperationProgressed e) =>
        (Done, Failed, Cursor, CursorSentAt) = (Done + e.Done, Failed + e.Failed, e.Cursor ?? Cursor, e.Cursor is null ? CursorSentAt : e.CursorSentAt);
    public void Apply(OperationFinished e) => (Status, FinishedAt, Outcome) = (OperationStatus.Done, e.FinishedAt, e.Outcome);

    /// <summary>An action done in one request: started and finished in one commit.</summary>
    public static object[] Completed(Guid id, OperationKind kind, string by, DateTimeOffset now, object selection, int total, int done, int failed, string? outcome = null) =>
    [
        new OperationStarted(id, kind, by, now, JsonSerializer.SerializeToElement(selection, OperationsConfiguration.Json), total),
        new OperationProgressed(id, done, failed, null, now),
        new OperationFinished(id, now, outcome),
    ];
}

/// <summary>The answer of an action that runs as an operation: 202 with the operation's address, or 200 when done at once.</summary>
public static class OperationAnswer
{
    public static string LocationOf(Guid operationId) => $"/admin/operations/{operationId}";

    public static void Populate<T>(Microsoft.AspNetCore.Builder.EndpointBuilder builder)
    {
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(T), ["application/json"]));
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status202Accepted, typeof(T), ["application/json"]));
    }

    public static void Apply(HttpContext context, string? location)
    {
        if (location is null) return;
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers.Location = location;
    }
}
