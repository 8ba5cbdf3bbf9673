using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace NotificationService.Hosting;

/// <summary>
/// A key ring written before a certificate was configured keeps its keys in plain text, and its current key would go on
/// encrypting new secrets until it expires (90 days). So a core started with a certificate replaces a current key stored
/// unencrypted by a new, encrypted one at once. The old keys stay: they still decrypt what they protected, and stay
/// readable in a dump until deleted (README: Security, "Key ring").
/// </summary>
public sealed class KeyRingUpgrade(IKeyManager keys, IOptions<KeyManagementOptions> options, IConfiguration configuration,
    TimeProvider clock, ILogger<KeyRingUpgrade> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (DataProtectionConfiguration.KeyRingCertificate(configuration) is null || options.Value.XmlRepository is not { } repository) return Task.CompletedTask;
        if (ReplaceUnencryptedCurrentKey(keys, repository.GetAllElements(), clock.GetUtcNow()) is { } key)
            logger.LogWarning("The current Data Protection key was stored unencrypted; new key {KeyId}, encrypted with the certificate, replaces it", key.KeyId);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The new key, if the current one (the one new secrets are encrypted with) is stored unencrypted.</summary>
    public static IKey? ReplaceUnencryptedCurrentKey(IKeyManager keys, IEnumerable<XElement> stored, DateTimeOffset now)
    {
        // An unprotected key keeps its secret in a <masterKey> element; a protected one has <encryptedSecret> instead.
        var unencrypted = stored.Where(e => e.Name == "key" && e.Descendants("masterKey").Any())
            .Select(e => Guid.Parse((string)e.Attribute("id")!)).ToHashSet();
        var current = keys.GetAllKeys().Where(k => !k.IsRevoked && k.ActivationDate <= now && k.ExpirationDate > now)
            .MaxBy(k => k.ActivationDate);
        return current is not null && unencrypted.Contains(current.KeyId) ? keys.CreateNewKey(now, now.AddDays(90)) : null;
    }
}
