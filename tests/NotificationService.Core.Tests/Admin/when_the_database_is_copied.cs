using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Hosting;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Core.Tests.Admin;

/// <summary>
/// A stolen database dump holds the Data Protection key ring and the encrypted adapter secrets, but every key in the
/// ring is encrypted with the certificate (DataProtection:CertificatePath), which is not in the database: the dump
/// alone decrypts nothing, the dump with the certificate does.
/// </summary>
public sealed class when_the_database_is_copied(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_pg_dump_alone_does_not_decrypt_an_adapter_secret_but_the_dump_with_the_certificate_does()
    {
        var secret = $"S3cret-{Guid.NewGuid():N}";
        var name = $"dump-{Guid.NewGuid():N}"[..20];
        await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name, type = "email",
            config = new { host = "127.0.0.1", port = 25, security = "none", from = "ns@example.test", username = "mailer", password = secret },
        }, expect: 201);

        var dump = await PgDumpAsync();
        var keyRing = Rows(dump, "ns.mt_doc_dataprotectionkey").Select(row => XElement.Parse(Property(row, "xml").GetString()!)).ToList();
        var stored = Property(Rows(dump, "ns.mt_doc_adapter").Single(row => Property(row, "name").GetString() == name), "config");
        Assert.NotEmpty(keyRing);
        Assert.StartsWith("enc:v1:", Property(stored, "password").GetString());
        // Each key's secret is an <encryptedSecret>, not the <masterKey> an unprotected ring keeps in plain base64.
        Assert.All(keyRing, key => Assert.Empty(key.Descendants("masterKey")));

        var withoutCertificate = SecretsFrom(keyRing, certificate: null);
        Assert.ThrowsAny<CryptographicException>(() => withoutCertificate.Unprotect(stored));

        using var certificate = DataProtectionConfiguration.KeyRingCertificate(new ConfigurationBuilder().AddEnvironmentVariables().Build())!;
        var withCertificate = SecretsFrom(keyRing, certificate);
        Assert.Equal(secret, Property(withCertificate.Unprotect(stored), "password").GetString());
    }

    /// <summary>What a thief would build: Data Protection reading the dumped key ring, with or without the certificate.</summary>
    private static AdapterSecrets SecretsFrom(IReadOnlyList<XElement> keyRing, X509Certificate2? certificate)
    {
        var services = new ServiceCollection().AddLogging();
        var dataProtection = services.AddDataProtection().SetApplicationName(DataProtectionConfiguration.ApplicationName).DisableAutomaticKeyGeneration();
        if (certificate is not null) dataProtection.UnprotectKeysWithAnyCertificate(certificate);
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = new DumpedKeyRing(keyRing));
        return new AdapterSecrets(services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>());
    }

    private sealed class DumpedKeyRing(IReadOnlyList<XElement> keys) : IXmlRepository
    {
        public IReadOnlyCollection<XElement> GetAllElements() => keys;
        public void StoreElement(XElement element, string friendlyName) => throw new InvalidOperationException("a dump is read-only");
    }

    /// <summary>The real pg_dump of the test database, as plain SQL (COPY blocks).</summary>
    private static async Task<string> PgDumpAsync()
    {
        var cs = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres);
        var start = new ProcessStartInfo("pg_dump", ["--data-only", "-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username!, cs.Database!])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        if (cs.Password is { Length: > 0 } password) start.Environment["PGPASSWORD"] = password;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stderr);
        return await stdout;
    }

    /// <summary>The <c>data</c> column of each row of a Marten document table in the dump's COPY block.</summary>
    private static IEnumerable<JsonElement> Rows(string dump, string table)
    {
        var lines = dump.Split('\n');
        var header = Array.FindIndex(lines, l => l.StartsWith($"COPY {table} (", StringComparison.Ordinal));
        Assert.True(header >= 0, $"{table} is not in the dump");
        var columns = lines[header][(lines[header].IndexOf('(') + 1)..lines[header].IndexOf(')')].Split(", ");
        var data = Array.IndexOf(columns, "data");
        for (var i = header + 1; lines[i] != "\\."; i++)
            yield return JsonDocument.Parse(CopyText(lines[i].Split('\t')[data])).RootElement.Clone();
    }

    /// <summary>A value in COPY's text format: backslash escapes undone.</summary>
    private static string CopyText(string field)
    {
        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] != '\\' || i + 1 == field.Length) { text.Append(field[i]); continue; }
            text.Append(field[++i] switch { 't' => '\t', 'n' => '\n', 'r' => '\r', 'b' => '\b', 'f' => '\f', 'v' => '\v', var c => c });
        }
        return text.ToString();
    }

    /// <summary>A property of a stored document, whatever the serializer's casing.</summary>
    private static JsonElement Property(JsonElement element, string name) =>
        element.EnumerateObject().First(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Value;
}
