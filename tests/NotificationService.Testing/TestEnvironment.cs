using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NotificationService.Testing;

/// <summary>The real infrastructure the tests run against, as started by <c>./ns test</c>.</summary>
public static class TestEnvironment
{
    public static string Postgres => Required("ConnectionStrings__Postgres");
    /// <summary>The core's RabbitMQ user (./ns test passes ns-core).</summary>
    public static string RabbitMq => Required("ConnectionStrings__RabbitMq");

    /// <summary>What every worker host and process connects with (`./ns test`: the role ns_worker); the core's when unset.</summary>
    public static string WorkerPostgres => Environment.GetEnvironmentVariable("NS_WORKER_POSTGRES") is { Length: > 0 } value ? value : Postgres;
    /// <summary>The workers' RabbitMQ user (./ns test passes ns-worker); the core's when unset.</summary>
    public static string WorkerRabbitMq => Optional("NS_WORKER_RABBITMQ") ?? RabbitMq;

    /// <summary>An operator's RabbitMQ user, for helpers that inspect or purge any queue; the core's when unset.</summary>
    public static string OperatorRabbitMq => Optional("NS_RABBITMQ_OPERATOR") ?? RabbitMq;

    /// <summary>
    /// The certificate core and workers encrypt the Data Protection key ring with (DataProtection:CertificatePath): ./ns
    /// test passes the development one from .local/secrets; a bare `dotnet test` gets one made here for this run, in a
    /// private temporary folder, and every host and worker process this test run starts inherits it.
    /// </summary>
    public static void EnsureKeyRingCertificate()
    {
        if (Optional("DataProtection__CertificatePath") is not null) return;
        var folder = Directory.CreateTempSubdirectory("ns-test-keyring-"); // mode 700
        // Its private key is not left behind in the temp folder: the processes the tests start have ended by then.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { folder.Delete(recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // gone already, or not ours to delete
        };
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=notification-service key ring (tests)", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var (crt, key) = (Path.Combine(folder.FullName, "dataprotection.crt"), Path.Combine(folder.FullName, "dataprotection.key"));
        File.WriteAllText(crt, certificate.ExportCertificatePem());
        File.WriteAllText(key, rsa.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Environment.SetEnvironmentVariable("DataProtection__CertificatePath", crt);
        Environment.SetEnvironmentVariable("DataProtection__CertificateKeyPath", key);
    }

    private static string? Optional(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the tests with ./ns test, which starts PostgreSQL and RabbitMQ.");

    /// <summary>Runs <c>rabbitmqctl</c> on the tests' broker (through <c>./ns rabbitmqctl</c>), e.g. to stop or start its application; its output.</summary>
    public static async Task<string> RabbitMqCtlAsync(params string[] command)
    {
        var ctl = Required("NS_RABBITMQCTL").Split(' ', 2);
        var start = new ProcessStartInfo(ctl[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (ctl.Length > 1) start.ArgumentList.Add(ctl[1]);
        foreach (var argument in command) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var (stdout, stderr) = (process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', command)} failed: {await stderr}{await stdout}");
        return await stdout;
    }
}
