using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Internal;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Tests.Hosting;

/// <summary>A key ring from before the certificate: its current key is replaced by an encrypted one, old secrets still decrypt.</summary>
public sealed class KeyRingUpgradeTests : IDisposable
{
    // The certificates' files (private keys included) are deleted with the test, not left in the temp folder.
    private readonly List<DirectoryInfo> _folders = [];

    public void Dispose()
    {
        foreach (var folder in _folders) folder.Delete(recursive: true);
    }

    // The time of each check is taken after the keys it looks at were made (by the real clock), so they are active.
    private static DateTimeOffset Now => DateTimeOffset.UtcNow;

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
        var created = KeyRingUpgrade.ReplaceCurrentKeyNotProtectedBy(certificate, keys, ring.Elements, Now.AddSeconds(1));

        Assert.NotNull(created);
        var stored = ring.Elements.Single(e => (string?)e.Attribute("id") == created.KeyId.ToString());
        Assert.Empty(stored.Descendants("masterKey"));
        Assert.Contains(stored.Descendants(), d => d.Name.LocalName == "encryptedSecret");
        Assert.Equal("old secret", after.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Unprotect(old));
        // Once the current key is encrypted, nothing more is created.
        Assert.Null(KeyRingUpgrade.ReplaceCurrentKeyNotProtectedBy(certificate, keys, ring.Elements, Now.AddSeconds(2)));
    }

    [Fact]
    public void after_a_certificate_rotation_the_current_key_is_replaced_and_the_previous_certificate_still_reads_old_secrets()
    {
        var ring = new InMemoryKeyRing();
        using var old = Certificate();
        var before = Services(ring, old);
        var secret = before.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Protect("old secret");

        using var rotated = Certificate();
        var after = Services(ring, rotated, previous: old);
        var keys = after.GetRequiredService<IKeyManager>();
        var created = KeyRingUpgrade.ReplaceCurrentKeyNotProtectedBy(rotated, keys, ring.Elements, Now.AddSeconds(1));

        Assert.NotNull(created);
        var stored = ring.Elements.Single(e => (string?)e.Attribute("id") == created.KeyId.ToString());
        Assert.Contains(stored.Descendants(), d => d.Name.LocalName == "X509Certificate" && d.Value.Trim() == Convert.ToBase64String(rotated.RawData));
        Assert.Equal("old secret", after.GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Unprotect(secret));
        Assert.Null(KeyRingUpgrade.ReplaceCurrentKeyNotProtectedBy(rotated, keys, ring.Elements, Now.AddSeconds(2)));
        // Without the previous certificate, keys of the old one cannot be read: the secret is lost, hence the setting.
        Assert.ThrowsAny<CryptographicException>(() =>
            Services(ring, rotated).GetRequiredService<IDataProtectionProvider>().CreateProtector("test").Unprotect(secret));
    }

    /// <summary>Data Protection as <see cref="DataProtectionConfiguration.AddAdapterSecrets"/> sets it up, over an in-memory key ring.</summary>
    private ServiceProvider Services(InMemoryKeyRing ring, X509Certificate2? certificate, X509Certificate2? previous = null)
    {
        var folder = Directory.CreateTempSubdirectory("ns-keyring-test-");
        _folders.Add(folder);
        var settings = new Dictionary<string, string?>();
        if (certificate is not null) settings["DataProtection:CertificatePath"] = Pfx(folder, "current", certificate);
        if (previous is not null) settings["DataProtection:PreviousCertificatePath"] = Pfx(folder, "previous", previous);
        var services = new ServiceCollection().AddLogging();
        services.AddAdapterSecrets(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), new HostingEnvironment { EnvironmentName = "Development" });
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = ring); // after the PostgreSQL repository, so it wins
        return services.BuildServiceProvider();
    }

    private static string Pfx(DirectoryInfo folder, string name, X509Certificate2 certificate)
    {
        var path = Path.Combine(folder.FullName, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx));
        return path;
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
