using System.Text.Json;

namespace NotificationService.Adapters.Runtime;

/// <summary>What a channel needs to send one job: the client's params (already validated against the schema).</summary>
public sealed record ChannelDelivery(Guid JobId, int Attempt, JsonElement Params)
{
    /// <summary>Where the send got: lets the runtime tell a truly aborted attempt from one the provider may have accepted.</summary>
    public SendProgress Progress { get; init; } = new();
}

/// <summary>
/// The outcome of one attempt. Separates what may succeed later (<see cref="Transient"/>) from what never will
/// (<see cref="Permanent"/>), so retries are spent only where they can help. <c>Error</c> is the classified reason the
/// tenant sees; <c>Detail</c> is what the provider said (a bounded excerpt of its answer), kept for operators only.
/// </summary>
public abstract record DeliveryResult
{
    public sealed record Delivered(string? ProviderMessageId = null) : DeliveryResult;
    public sealed record Transient(string Error, TimeSpan? RetryAfter = null, string? Detail = null) : DeliveryResult;
    public sealed record Permanent(string Error, string? Detail = null) : DeliveryResult;
}

/// <summary>
/// One channel (SMTP, Telegram, ...). Implementations are singletons built from the adapter's config, reuse their
/// connections, honour the cancellation token (an in-flight cancel aborts the send) and never throw for a failure
/// they can classify. A channel reports through <see cref="ChannelDelivery.Progress"/> when its request is complete, so
/// an abort after that point is not mistaken for a send that never happened.
/// </summary>
public interface IChannelSender
{
    Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation);
}
