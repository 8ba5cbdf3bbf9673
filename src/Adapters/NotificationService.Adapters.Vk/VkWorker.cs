using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Adapters.Vk;

public static class VkWorker
{
    public static Task<int> Main(string[] args) => AdapterWorker.RunAsync<VkSender, VkConfig>(args, VkAdapterType.Name);
}
