using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Adapters;

public static class AdapterQueues
{
    /// <summary>Where a job for this adapter is sent: the queue stored on the adapter when it was created.</summary>
    public static Uri Uri(Adapter adapter) => new($"rabbitmq://queue/{adapter.Queue}");
}
