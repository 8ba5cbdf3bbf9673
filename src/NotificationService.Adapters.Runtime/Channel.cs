using System.Text.Json;
using NotificationService.Contracts;

namespace NotificationService.Adapters.Runtime;

/// <summary>What a channel needs to send one job: the client's params (already validated against the schema).</summary>
public sealed record ChannelDelivery(Guid JobId, int Attempt, JsonElement Params)
{
    /// <summary>Where the send got: lets the runtime tell a truly aborted attempt from one the provider may have accepted.</summary>
    public SendProgress Progress { get; init; } = new();
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
