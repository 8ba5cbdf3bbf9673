using System.Collections.Concurrent;

namespace NotificationService.Contracts;

/// <summary>
/// Core to an adapter's queue: deliver one job. It carries ids only; the worker reads params, expiry and state from
/// the job's event stream, so a redelivered or re-driven message always acts on the job's current truth.
/// <paramref name="Generation"/> is the job's generation when the message was sent: the core's reconciler re-publishes a
/// stuck job under a new generation, and a worker skips a message of an older one.
/// </summary>
public sealed record DeliverJob(Guid JobId, Guid AdapterId, int Generation = 0);

/// <summary>
/// Core to the cancellation fanout exchange: every worker node receives it and aborts the job if it is sending it now.
/// The database cancellation view stays the source of truth; this only shortens an in-flight send.
/// </summary>
public sealed record JobCancellationBroadcast(Guid JobId, Guid AdapterId);

/// <summary>Names of the broker objects that core and workers must agree on.</summary>
public static class Topology
{
    /// <summary>The fanout exchange that carries <see cref="JobCancellationBroadcast"/> to every worker node.</summary>
    public const string CancellationExchange = "ns.cancellations";

    /// <summary>
    /// The direct exchange workers send scheduled retries through (routing key = the adapter's queue), so a retry
    /// goes back to the queue every worker of that adapter competes on.
    /// </summary>
    public const string RetryExchange = "ns.retries";

    /// <summary>The queue an adapter instance's workers compete on; stored on the adapter when it is created.</summary>
    public static string QueueFor(string adapterName) => $"ns.adapter.{adapterName}";

    /// <summary>
    /// One instance per queue: each job's routed <see cref="DeliverJob"/> holds it until its send ends, and a flood of
    /// many-target offers kept thousands of copies alive while waiting for the broker (9,545 in one heap dump).
    /// </summary>
    public static Uri QueueUri(string queue) => QueueUris.GetOrAdd(queue, static q => new Uri($"rabbitmq://queue/{q}"));

    // Adapters are few (an admin creates each), so this never needs trimming.
    private static readonly ConcurrentDictionary<string, Uri> QueueUris = new();

    public static Uri RetryUri(string queue) => new($"rabbitmq://exchange/{RetryExchange}/routing/{queue}");
}
