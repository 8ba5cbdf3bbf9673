using Marten;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Appends a job's events in the request's session, for the endpoints that change several jobs at once (an offer's).
/// Their streams were fetched for exclusive writing in this session, so the events join that fetch: its row lock and
/// its expected version hold as if they had been appended to the fetched stream.
/// </summary>
public sealed record AppendJobEvents(Guid JobId, IReadOnlyList<object> Events) : IMartenOp
{
    public void Execute(IDocumentSession session)
    {
        if (Events.Count > 0) session.Events.Append(JobId, Events);
    }
}
