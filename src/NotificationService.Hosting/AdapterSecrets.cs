using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NotificationService.Contracts.AdapterTypes;

namespace NotificationService.Hosting;

/// <summary>
/// Secret fields of adapter configs (the type schema's <c>writeOnly</c> properties) are stored encrypted with ASP.NET
/// Core Data Protection, whose key ring lives in PostgreSQL so that every core instance and every worker can read it;
/// each key in it is encrypted with a certificate kept outside the database (<see cref="DataProtectionConfiguration"/>).
/// </summary>
public sealed class AdapterSecrets(IDataProtectionProvider provider)
{
    private const string Prefix = "enc:v1:";
    private readonly IDataProtector _protector = provider.CreateProtector("NotificationService.AdapterConfig.v1");

    /// <summary>
    /// The config (or a merge patch of it) as stored: each secret encrypted. Secrets it leaves out, or sets to null,
    /// stay so; an update merges the result into the stored config, which keeps the ones left out.
    /// </summary>
    public JsonElement Protect(AdapterType type, JsonElement config)
    {
        // Built member by member: a JsonObject parsed from text with a property name twice throws when it is read.
        var node = new JsonObject();
        foreach (var property in config.EnumerateObject()) node[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        foreach (var field in type.SecretFields)
            if (node[field] is JsonValue value && value.TryGetValue<string>(out var secret)) node[field] = Prefix + _protector.Protect(secret);
        return JsonSerializer.SerializeToElement(node);
    }

    /// <summary>The config a worker configures its channel with.</summary>
    public JsonElement Unprotect(JsonElement stored)
    {
        var node = JsonNode.Parse(stored.GetRawText())!.AsObject();
        foreach (var (field, value) in node.ToList())
            if (value is JsonValue v && v.TryGetValue<string>(out var text) && text.StartsWith(Prefix, StringComparison.Ordinal))
                node[field] = _protector.Unprotect(text[Prefix.Length..]);
        return JsonSerializer.SerializeToElement(node);
    }

    /// <summary>The config as the API shows it: without its secrets, which are write-only.</summary>
    public static JsonElement Redact(AdapterType? type, JsonElement stored)
    {
        var node = JsonNode.Parse(stored.GetRawText())!.AsObject();
        foreach (var field in type?.SecretFields ?? []) node.Remove(field);
        return JsonSerializer.SerializeToElement(node);
    }

    public static IReadOnlyList<string> SecretsSet(AdapterType? type, JsonElement stored) =>
        (type?.SecretFields ?? []).Where(f => stored.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String).ToList();
}

/// <summary>One Data Protection key, as the key ring's XML element.</summary>
public sealed class DataProtectionKey
{
    public string Id { get; set; } = "";
    public string Xml { get; set; } = "";
}

/// <summary>
/// Data Protection's repository contract is synchronous and Marten 9 is asynchronous only, so it blocks here; the key ring
/// is read once and cached for hours, and written only when a key is created (first start, then every 90 days). The store
/// is resolved on first use, so a host that replaces this repository (a test's in-memory key ring) needs none.
/// </summary>
internal sealed class MartenXmlRepository(Func<IDocumentStore> store) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements() => Task.Run(async () =>
    {
        await using var session = store().QuerySession();
        return (await session.Query<DataProtectionKey>().ToListAsync()).Select(k => XElement.Parse(k.Xml)).ToList();
    }).GetAwaiter().GetResult();

    public void StoreElement(XElement element, string friendlyName) => Task.Run(async () =>
    {
        await using var session = store().LightweightSession();
        session.Store(new DataProtectionKey { Id = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        await session.SaveChangesAsync();
    }).GetAwaiter().GetResult();
}

public static class DataProtectionConfiguration
{
    public const string ApplicationName = "notification-service";

    /// <summary>
    /// Data Protection with its key ring in PostgreSQL, every new key encrypted with the certificate named by
    /// <c>DataProtection:CertificatePath</c>, so a copy of the database alone decrypts no adapter secret. Required in
    /// Production; a Development host without one stores its keys unencrypted, as earlier versions did. Keys encrypted
    /// with a certificate being rotated out are still read with <c>DataProtection:PreviousCertificatePath</c>.
    /// </summary>
    public static IServiceCollection AddAdapterSecrets(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        var dataProtection = services.AddDataProtection().SetApplicationName(ApplicationName);
        var previous = KeyRingCertificate(configuration, "Previous");
        if (KeyRingCertificate(configuration) is { } certificate)
            dataProtection.ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(previous is null ? [certificate] : [certificate, previous]);
        else if (environment.IsProduction() || previous is not null)
            throw new InvalidOperationException("Set DataProtection:CertificatePath (env DataProtection__CertificatePath) to the certificate " +
                                                "that encrypts the Data Protection key ring; it is required in Production (README: Security).");
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp =>
            new ConfigureOptions<KeyManagementOptions>(o => o.XmlRepository = new MartenXmlRepository(sp.GetRequiredService<IDocumentStore>)));
        return services.AddSingleton<AdapterSecrets>();
    }

    /// <summary>
    /// The key ring's certificate with its private key: a PEM certificate (its key in the same file or in
    /// <c>DataProtection:CertificateKeyPath</c>, encrypted if <c>DataProtection:CertificatePassword</c> is set) or a
    /// .pfx/.p12 file (with that password); null when none is configured. <paramref name="which"/> "Previous" reads the
    /// <c>DataProtection:PreviousCertificate*</c> settings instead.
    /// </summary>
    public static X509Certificate2? KeyRingCertificate(IConfiguration configuration, string which = "")
    {
        var setting = $"DataProtection:{which}Certificate";
        if (configuration[$"{setting}Path"] is not { Length: > 0 } path) return null;
        var keyPath = configuration[$"{setting}KeyPath"] is { Length: > 0 } k ? k : null;
        var password = configuration[$"{setting}Password"] is { Length: > 0 } p ? p : null;
        X509Certificate2 certificate;
        try
        {
            certificate = Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12" ? X509CertificateLoader.LoadPkcs12FromFile(path, password)
                : password is null ? X509Certificate2.CreateFromPemFile(path, keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"Set {setting}Path (and {setting}KeyPath, {setting}Password) " +
                                                $"to a readable certificate with its private key: '{path}' could not be loaded ({e.Message}).");
        }
        return certificate.HasPrivateKey ? certificate
            : throw new InvalidOperationException($"Set {setting}KeyPath: the certificate '{path}' came without its private key, which decrypts the key ring.");
    }
}
