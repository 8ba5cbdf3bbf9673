using System.Text.Json;
using NotificationService.Adapters.Runtime;

namespace NotificationService.Adapters.Tests.Channels;

public static class Deliveries
{
    public static ChannelDelivery Of(object parameters) => new(Guid.NewGuid(), 1, JsonSerializer.SerializeToElement(parameters));
}
