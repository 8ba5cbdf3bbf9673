using System.Collections.Concurrent;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;

namespace NotificationService.Testing;

/// <summary>
/// A channel whose sends wait until the test releases them, so a test can act while a job is in flight (cancel it,
/// kill its worker). <see cref="HonourCancellation"/> false models a send that can no longer be stopped.
/// </summary>
public sealed class GatedChannel : IChannelSender
{
    private readonly SemaphoreSlim _gate = new(0);

    public bool HonourCancellation { get; init; } = true;
    public ConcurrentQueue<Guid> Started { get; } = new();
    public ConcurrentQueue<Guid> Delivered { get; } = new();
    public ConcurrentQueue<Guid> Aborted { get; } = new();

    public async Task<DeliveryResult> SendAsync(ChannelDelivery delivery, CancellationToken cancellation)
    {
        Started.Enqueue(delivery.JobId);
        // Honouring: held before the request goes out, so an abort is a true cancel. Not honouring: already with the provider.
        using var abort = delivery.Progress.AbortUntilSent(cancellation);
        if (!HonourCancellation) delivery.Progress.MarkSent();
        try
        {
            await _gate.WaitAsync(abort.Token);
        }
        catch (OperationCanceledException)
        {
            Aborted.Enqueue(delivery.JobId);
            throw;
        }
        Delivered.Enqueue(delivery.JobId);
        return new DeliveryResult.Delivered($"gated-{delivery.JobId}");
    }

    public void Release(int sends = 1) => _gate.Release(sends);
}
