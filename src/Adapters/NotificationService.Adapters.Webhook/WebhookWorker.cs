using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Adapters.Webhook;

public static class WebhookWorker
{
    public static Task<int> Main(string[] args) => AdapterWorker.RunAsync<WebhookSender, WebhookConfig>(args, WebhookAdapterType.Name);
}
