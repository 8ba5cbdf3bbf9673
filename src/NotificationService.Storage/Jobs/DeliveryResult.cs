namespace NotificationService.Storage.Jobs;

/// <summary>
/// The outcome of one attempt. Separates what may succeed later (<see cref="Transient"/>) from what never will
/// (<see cref="Permanent"/>), so retries are spent only where they can help. <c>Error</c> is the classified reason the
/// tenant sees; <c>Detail</c> is what the provider said (a bounded excerpt of its answer), kept for operators only.
/// Lives beside the lifecycle, which decides from it how the attempt ends.
/// </summary>
public abstract record DeliveryResult
{
    public sealed record Delivered(string? ProviderMessageId = null) : DeliveryResult;
    public sealed record Transient(string Error, TimeSpan? RetryAfter = null, string? Detail = null) : DeliveryResult;
    public sealed record Permanent(string Error, string? Detail = null) : DeliveryResult;
}
