using Marten;
using NotificationService.Storage.Jobs;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Starts a job's stream in the request's session with its first events, and stores the job they make, in one statement
/// (<see cref="JobStreamAppend"/>, at expected version 0: a stream that exists fails it) where MartenOps.StartStream sends
/// the append and the inline projection's upsert as two: one statement fewer per accepted job.
/// </summary>
public sealed record StartJobStream(Guid JobId, IReadOnlyList<object> Events) : IMartenOp
{
    public void Execute(IDocumentSession session) => session.QueueOperation(new JobStreamAppend(new Job { Id = JobId }, Events));
}
