using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace NotificationService.Hosting;

/// <summary>
/// A key ring written before a certificate was configured keeps its keys in plain text, and one written under a
/// certificate since rotated out keeps them encrypted with that one; either way its current key would go on encrypting
/// new secrets until it expires (90 days). So a core started with a certificate replaces a current key that is not
/// encrypted with it by a new key that is. The old keys stay: they still decrypt what they protected (a rotated-out
/// certificate through DataProtection:PreviousCertificatePath) until deleted (README: Security, "Key ring").
/// </summary>
public sealed class KeyRingUpgrade(IKeyManager keys, IOptions<KeyManagementOptions> options, IConfiguration configuration,
    TimeProvider clock, ILogger<KeyRingUpgrade> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        using var certificate = DataProtectionConfiguration.KeyRingCertificate(configuration);
        if (certificate is null || options.Value.XmlRepository is not { } repository) return Task.CompletedTask;
        if (ReplaceCurrentKeyNotProtectedBy(certificate, keys, repository.GetAllElements(), clock.GetUtcNow()) is { } key)
            logger.LogWarning("The current Data Protection key was not encrypted with the configured certificate; new key {KeyId}, encrypted with it, replaces it", key.KeyId);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The new key, if the current one (the one new secrets are encrypted with) is not encrypted with <paramref name="certificate"/>.</summary>
    public static IKey? ReplaceCurrentKeyNotProtectedBy(X509Certificate2 certificate, IKeyManager keys, IEnumerable<XElement> stored, DateTimeOffset now)
    {
        // A key encrypted with a certificate names it in its XML encryption's <X509Certificate>; an unprotected key has none.
        var encoded = Convert.ToBase64String(certificate.RawData);
        var protectedByIt = stored.Where(e => e.Name == "key" && e.Descendants().Any(d => d.Name.LocalName == "X509Certificate" && d.Value.Trim() == encoded))
            .Select(e => Guid.Parse((string)e.Attribute("id")!)).ToHashSet();
        var current = keys.GetAllKeys().Where(k => !k.IsRevoked && k.ActivationDate <= now && k.ExpirationDate > now)
            .MaxBy(k => k.ActivationDate);
        return current is not null && !protectedByIt.Contains(current.KeyId) ? keys.CreateNewKey(now, now.AddDays(90)) : null;
    }
}
