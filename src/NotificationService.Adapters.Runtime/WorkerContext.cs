using NotificationService.Contracts;
using NotificationService.Storage.Adapters;

namespace NotificationService.Adapters.Runtime;

/// <summary>Who this worker is: its adapter's registration (read once at start-up by key hash) and its node name.</summary>
/// <param name="OutcomeCommitWindow">how long a send's outcome commit is retried before the job is left to the reconciler</param>
public sealed record WorkerContext(Guid AdapterId, string AdapterName, string Queue, DeliveryPolicy Policy, string Node, TimeSpan OutcomeCommitWindow)
{
    /// <summary>Where this adapter's retries are sent: through the retry exchange, back to the adapter's queue.</summary>
    public Uri RetryUri => Topology.RetryUri(Queue);
}
