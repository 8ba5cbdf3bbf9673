namespace NotificationService.Contracts;

/// <summary>
/// The outcome of one attempt. Separates what may succeed later (<see cref="Transient"/>) from what never will
/// (<see cref="Permanent"/>), so retries are spent only where they can help. <c>Error</c> is the classified reason the
/// tenant sees; <c>Detail</c> is what the provider said (a bounded excerpt of its answer), kept for operators only.
/// In Contracts, beside the other types an adapter shares with the core, so a channel sender needs no storage types;
/// the job lifecycle (Storage) decides from it how the attempt ends.
/// </summary>
public abstract record DeliveryResult
{
    /// <summary>The provider accepted the message; its id for it, if it gave one.</summary>
    public sealed record Delivered(string? ProviderMessageId = null) : DeliveryResult;
    /// <summary>May succeed later: retried after <c>RetryAfter</c> if the provider named it, else after the policy's backoff.</summary>
    public sealed record Transient(string Error, TimeSpan? RetryAfter = null, string? Detail = null) : DeliveryResult;
    /// <summary>Will never succeed as it is: the job fails without further attempts.</summary>
    public sealed record Permanent(string Error, string? Detail = null) : DeliveryResult;
}
