using Alba;
using Microsoft.AspNetCore.Hosting;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Admin;

/// <summary>
/// In Production the key ring must be encrypted with a certificate from configuration: a core or worker without one, or
/// with one it cannot load, refuses to start and names the setting, instead of writing unprotected keys.
/// </summary>
public sealed class when_the_key_ring_certificate_is_missing(SystemFixture system) : IntegrationContext(system)
{
    private const string Email = "NotificationService.Adapters.Email";

    [Fact]
    public async Task a_production_worker_without_it_or_with_an_unreadable_one_exits_naming_the_setting()
    {
        var (missing, output) = await WorkerProcess.RunToExitAsync(Email, System.Email.ApiKey, TimeSpan.FromSeconds(60), new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production", ["DOTNET_ENVIRONMENT"] = null,
            ["DataProtection__CertificatePath"] = null, ["DataProtection__CertificateKeyPath"] = null,
        });
        Assert.Equal(2, missing);
        Assert.Contains("adapter worker (email): Set DataProtection:CertificatePath", output);

        var (unreadable, reason) = await WorkerProcess.RunToExitAsync(Email, System.Email.ApiKey, TimeSpan.FromSeconds(60), new Dictionary<string, string?>
        {
            ["DataProtection__CertificatePath"] = "/nonexistent/keyring.crt", ["DataProtection__CertificateKeyPath"] = null,
        });
        Assert.Equal(2, unreadable);
        Assert.Contains("'/nonexistent/keyring.crt' could not be loaded", reason);
    }

    [Fact]
    public async Task a_production_core_without_it_does_not_start()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => AlbaHost.For<Program>(b => b
            .UseEnvironment("Production")
            .UseSetting("Admin:ApiKeys:0", SystemFixture.AdminKey)
            .UseSetting("DataProtection:CertificatePath", "")));
        Assert.Contains("Set DataProtection:CertificatePath", e.ToString());
    }
}
