using System.Text.Json;
using JasperFx.Events;
using Marten;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Marten;
using Wolverine.Runtime.Handlers;

namespace NotificationService.Core.Operations;

/// <summary>
/// Run the next batch of dead-letter replay or discard <paramref name="OperationId"/> (by filter); durable, so a core
/// restart resumes it. <paramref name="ReceivedAt"/> is the adapter filter resolved when it started, so a rename or
/// delete of the adapter cannot widen it.
/// </summary>
public sealed record ContinueDeadLetters(Guid OperationId, OperationKind Kind, DeadLetterSelection Selection, string? ReceivedAt);

/// <summary>An operation an endpoint starts: its stream's first event and the message that runs its first batch.</summary>
public sealed record StartedOperation(Guid Id, IMartenOp Stream, ContinueDeadLetters Message);

/// <summary>One batch: the operation (fetched for writing: a duplicate of this message fails its commit), the next dead letters after its cursor and, for a replay, their jobs (locked) and adapters.</summary>
public sealed record DeadLetterBatch(IEventStream<Operation> Operation, IReadOnlyList<DeadLetter> Letters, IReadOnlyDictionary<Guid, Job> Jobs, IReadOnlyDictionary<Guid, Adapter> Adapters);

/// <summary>
/// A replay or discard by filter, one batch of <see cref="OperationsSettings.DeadLetterBatchSize"/> per message, walking
/// every match newest first with a keyset cursor on (send time, id) kept in the operation: rows a replay skips (a job no
/// longer Failed, erased, or gone) stay behind the cursor, so any number of them cannot stall it, and each batch commits
/// on its own. A replay decides each batch by the same rule as a request (<see cref="ReplayDecision"/>); its skipped
/// letters are the operation's <c>failed</c> count.
/// </summary>
public static class ContinueDeadLettersHandler
{
    // Not "Start": Wolverine would take a method of that name in a handler class for a message handler.
    public static StartedOperation Begin(OperationKind kind, DeadLetterSelection request, SelectedDeadLetters selected, string by, DateTimeOffset now)
    {
        var id = Guid.NewGuid();
        var selection = request with { DryRun = false };
        var started = new OperationStarted(id, kind, by, now, JsonSerializer.SerializeToElement(selection, OperationsConfiguration.Json), selected.Matched);
        return new(id, MartenOps.StartStream<Operation>(id, started), new ContinueDeadLetters(id, kind, selection, DeadLetters.ReceivedAt(selected.Adapter)));
    }

    /// <summary>The re-drive's policy: a conflict or a database blink retries the batch; what still fails ends the operation "failed: ...".</summary>
    public static void Configure(HandlerChain chain) => ContinueRedriveHandler.Configure(chain);

    public static async Task<DeadLetterBatch> LoadAsync(ContinueDeadLetters message, IDocumentSession session, OperationsSettings settings, CancellationToken ct)
    {
        var operation = await session.Events.FetchForWriting<Operation>(message.OperationId, ct);
        if (operation.Aggregate is not { Status: OperationStatus.Running } running)
            return new(operation, [], new Dictionary<Guid, Job>(), new Dictionary<Guid, Adapter>());
        var after = running is { Cursor: { } id, CursorSentAt: { } at } ? new DeadLetterCursor(at, id) : null;
        var letters = await DeadLetters.NextAsync(session, message.Selection, message.ReceivedAt, after, settings.DeadLetterBatchSize,
            await DeadLetters.AdaptersByQueueUriAsync(session, ct), ct);
        if (message.Kind != OperationKind.Replay) return new(operation, letters, new Dictionary<Guid, Job>(), new Dictionary<Guid, Adapter>());
        var (jobs, adapters) = await ReplayPlan.LoadJobsAsync(letters, readOnly: false, session, ct);
        return new(operation, letters, jobs, adapters);
    }

    public static (IEnumerable<IMartenOp>, OutgoingMessages) Handle(
        ContinueDeadLetters message, DeadLetterBatch batch, OperationsSettings settings, TimeProvider clock, FairShare fairShare)
    {
        if (batch.Operation.Aggregate is not { Status: OperationStatus.Running } operation) return ([], []);
        var now = clock.GetUtcNow();
        var (ops, messages, done, failed) = message.Kind == OperationKind.Replay
            ? Replay(ReplayDecision.Decide(batch.Letters, batch.Jobs, batch.Adapters, operation.By, now, fairShare))
            : ([new ChangeDeadLetterRows(batch.Letters, [])], new OutgoingMessages(), batch.Letters.Count, 0);
        var last = batch.Letters.Count > 0 ? batch.Letters[^1] : null;
        batch.Operation.AppendOne(new OperationProgressed(operation.Id, done, failed, last?.Id, now, last?.SentAt));
        if (batch.Letters.Count < settings.DeadLetterBatchSize) batch.Operation.AppendOne(new OperationFinished(operation.Id, now));
        else messages.Add(message);
        return (ops, messages);
    }

    private static (List<IMartenOp>, OutgoingMessages, int, int) Replay(ReplayDecision decision) =>
        ([.. decision.Ops, new ChangeDeadLetterRows(decision.Delete, decision.MarkReplayable)], decision.Messages, decision.Replayed, decision.Skipped.Count);
}
