using MailKit.Security;

namespace NotificationService.Adapters.Email;

/// <summary>The adapter's connection config, as validated by <c>EmailAdapterType.ConfigSchema</c>.</summary>
public sealed record EmailConfig(string Host, int Port, string From, string Security = "starttls", string? Username = null, string? Password = null)
{
    public SecureSocketOptions SocketOptions => Security switch
    {
        "none" => SecureSocketOptions.None,
        "tls" => SecureSocketOptions.SslOnConnect,
        _ => SecureSocketOptions.StartTls,
    };
}
