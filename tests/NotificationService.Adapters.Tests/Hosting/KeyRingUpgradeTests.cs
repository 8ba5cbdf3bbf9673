using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Tests.Hosting;

/// <summary>A key ring from before the certificate: its current key is replaced by an encrypted one, old secrets still decrypt.</summary>
public sealed class KeyRingUpgradeTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Fact]
    public void an_unencrypted_current_key_is_replaced_by_an_encrypted_one_and_old_secrets_still_decrypt()
    {
        var ring = new InMemoryKeyRing();
        var before = Services(ring, certificate: null);
        var old = before.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("old secret");
        Assert.Contains(ring.Elements, e => e.Descendants("masterKey").Any()); // the premise: stored in plain text

        using var certificate = Certificate();
        var after = Services(ring, certificate);
        var keys = after.GetRequiredService<IKeyManager>();
        var created = KeyRingUpgrade.ReplaceUnencryptedCurrentKey(keys, ring.Elements, Now.AddSeconds(1));

        Assert.NotNull(created);
        var stored = ring.Elements.Single(e => (string?)e.Attribute("id") == created.KeyId.ToString());
        Assert.Empty(stored.Descendants("masterKey"));
        Assert.Contains(stored.Descendants(), d => d.Name.LocalName == "encryptedSecret");
        Assert.Equal("old secret", after.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Unprotect(old));
        // Once the current key is encrypted, nothing more is created.
        Assert.Null(KeyRingUpgrade.ReplaceUnencryptedCurrentKey(keys, ring.Elements, Now.AddSeconds(2)));
    }

    private static ServiceProvider Services(InMemoryKeyRing ring, X509Certificate2? certificate)
    {
        var services = new ServiceCollection().AddLogging();
        var dataProtection = services.AddDataProtection().SetApplicationName(DataProtectionConfiguration.ApplicationName);
        if (certificate is not null) dataProtection.ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(certificate);
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = ring);
        return services.BuildServiceProvider();
    }

    private static X509Certificate2 Certificate()
    {
        using var rsa = RSA.Create(2048);
        return new CertificateRequest("CN=key ring test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));
    }

    private sealed class InMemoryKeyRing : IXmlRepository
    {
        public List<XElement> Elements { get; } = [];
        public IReadOnlyCollection<XElement> GetAllElements() => Elements.ToList();
        public void StoreElement(XElement element, string friendlyName) => Elements.Add(new XElement(element));
    }
}
