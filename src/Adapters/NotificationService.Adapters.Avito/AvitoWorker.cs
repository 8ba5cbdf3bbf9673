using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Adapters.Avito;

public static class AvitoWorker
{
    public static Task<int> Main(string[] args) => AdapterWorker.RunAsync<AvitoSender, AvitoConfig>(args, AvitoAdapterType.Name);
}
