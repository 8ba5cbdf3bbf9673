using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Adapters.Telegram;

public static class TelegramWorker
{
    public static Task<int> Main(string[] args) => AdapterWorker.RunAsync<TelegramSender, TelegramConfig>(args, TelegramAdapterType.Name);
}
