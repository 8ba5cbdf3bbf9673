using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Adapters.Sms;

public static class SmsWorker
{
    public static Task<int> Main(string[] args) => AdapterWorker.RunAsync<SmsSender, SmsConfig>(args, SmsAdapterType.Name);
}
