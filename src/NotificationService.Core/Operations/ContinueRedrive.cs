using JasperFx.Events;
using Marten;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using JasperFx;
using JasperFx.Core;
using Npgsql;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Marten;
using Wolverine.Runtime;
using Wolverine.Runtime.Handlers;

namespace NotificationService.Core.Operations;

/// <summary>Run the next batch of re-drive <paramref name="OperationId"/>; durable, so a core restart resumes the re-drive.</summary>
public sealed record ContinueRedrive(Guid OperationId, RedriveFilter Filter);

/// <summary>One batch: the operation (fetched for writing: a duplicate of this message fails its commit), the next jobs after its cursor, their adapters.</summary>
public sealed record RedriveBatch(IEventStream<Operation> Operation, IReadOnlyList<Job> Jobs, IReadOnlyDictionary<Guid, Adapter> Adapters);

/// <summary>
/// A re-drive, one batch per message: each job the filter still selects gets JobLifecycle.OnRedrive's events, appended at
/// the version it was read at (a job changed meanwhile fails the batch, and the retried message decides again), and a
/// new DeliverJob; the operation records the batch's counts and cursor, and the message re-publishes itself until a
/// batch comes back short. Jobs whose adapter was deleted are counted failed and left as they are.
/// </summary>
public static class ContinueRedriveHandler
{
    public const int BatchSize = 200;

    /// <summary>
    /// A job changed while the batch ran (its version moved) or the database blinked: the batch is read and decided again.
    /// Whatever still fails (retries used up, or an error no retry fixes) ends the operation "failed: ..." before the
    /// message is dead-lettered, so it never shows Running forever.
    /// </summary>
    public static void Configure(HandlerChain chain)
    {
        chain.OnException(IsRetryable).RetryWithCooldown(100.Milliseconds(), 500.Milliseconds(), 2.Seconds())
            .Then.ScheduleRetry(5.Seconds(), 30.Seconds())
            .Then.CustomAction(FailAsync, "End the re-drive as failed, then dead-letter the batch");
        chain.OnException<Exception>().CustomAction(FailAsync, "End the re-drive as failed, then dead-letter the batch");
    }

    public static bool IsRetryable(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is ConcurrencyException or NpgsqlException { IsTransient: true } or TimeoutException) return true;
        return false;
    }

    private static async ValueTask FailAsync(IWolverineRuntime runtime, IEnvelopeLifecycle lifecycle, Exception e)
    {
        // The operation's batch messages (a re-drive's, a dead-letter replay's or discard's) share this policy.
        var operationId = lifecycle.Envelope?.Message switch { ContinueRedrive r => r.OperationId, ContinueDeadLetters d => d.OperationId, _ => (Guid?)null };
        if (operationId is { } id)
        {
            // The type only: a database exception's message may quote stored data.
            await using var session = runtime.Services.GetRequiredService<IDocumentStore>().LightweightSession();
            var operation = await session.Events.FetchForWriting<Operation>(id);
            if (operation.Aggregate is { Status: OperationStatus.Running })
            {
                operation.AppendOne(new OperationFinished(id, (runtime.Services.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow(), $"failed: {e.GetType().Name}"));
                await session.SaveChangesAsync();
            }
        }
        await lifecycle.MoveToDeadLetterQueueAsync(e);
    }

    public static async Task<RedriveBatch> LoadAsync(ContinueRedrive message, IDocumentSession session, CancellationToken ct)
    {
        var operation = await session.Events.FetchForWriting<Operation>(message.OperationId, ct);
        if (operation.Aggregate is not { Status: OperationStatus.Running } running) return new(operation, [], new Dictionary<Guid, Adapter>());
        var jobs = await message.Filter.NextAsync(session, running.Cursor ?? Guid.Empty, BatchSize, ct);
        var adapters = await session.LoadManyAsync<Adapter>(ct, jobs.Select(j => j.AdapterId).Distinct());
        return new(operation, jobs, adapters.ToDictionary(a => a.Id));
    }

    public static (IEnumerable<IMartenOp>, OutgoingMessages) Handle(ContinueRedrive message, RedriveBatch batch, TimeProvider clock, FairShare fairShare)
    {
        if (batch.Operation.Aggregate is not { Status: OperationStatus.Running } operation) return ([], []);
        var now = clock.GetUtcNow();
        var ops = new List<IMartenOp>();
        var messages = new OutgoingMessages();
        var (done, failed) = (0, 0);
        foreach (var job in batch.Jobs)
        {
            var events = batch.Adapters.ContainsKey(job.AdapterId) ? JobLifecycle.OnRedrive(job, operation.By, now) : [];
            if (events.Count == 0) { failed++; continue; }
            done++;
            ops.Add(new AppendJobEventsAt(job.Id, job.Version, events));
            messages.Add(fairShare.Deliver(job.Id, job.ServiceId, batch.Adapters[job.AdapterId], JobLifecycle.RetryGeneration(job)));
        }
        batch.Operation.AppendOne(new OperationProgressed(operation.Id, done, failed, batch.Jobs.Count > 0 ? batch.Jobs[^1].Id : null, now));
        if (batch.Jobs.Count < BatchSize) batch.Operation.AppendOne(new OperationFinished(operation.Id, now));
        else messages.Add(message);
        return (ops, messages);
    }
}

/// <summary>A job's events appended at the version it was read at: anything appended since fails the commit.</summary>
public sealed record AppendJobEventsAt(Guid JobId, long ReadVersion, IReadOnlyList<object> Events) : IMartenOp
{
    public void Execute(IDocumentSession session) => session.Events.Append(JobId, ReadVersion + Events.Count, Events.ToArray());
}
