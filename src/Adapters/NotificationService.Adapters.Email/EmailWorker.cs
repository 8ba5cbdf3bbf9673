using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Adapters.Email;

public static class EmailWorker
{
    public static Task<int> Main(string[] args) => AdapterWorker.RunAsync<EmailSender, EmailConfig>(args, EmailAdapterType.Name);
}
