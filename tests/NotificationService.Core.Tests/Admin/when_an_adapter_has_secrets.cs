using System.Diagnostics;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Core.Tests.Admin;

public sealed class when_an_adapter_has_secrets(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_secret_reaches_the_smtp_server_but_no_api_response_and_nothing_in_the_database_in_plain_text()
    {
        var secret = $"S3cret-{Guid.NewGuid():N}";
        await using var smtp = new SmtpSink(requiredLogin: ("mailer", secret));
        var name = $"auth-{Guid.NewGuid():N}"[..20];
        var responses = new List<string>();

        var (status, created) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name, type = "email",
            config = new { host = "127.0.0.1", port = smtp.Port, security = "none", from = "ns@example.test", username = "mailer", password = secret },
        });
        Assert.Equal(201, status);
        responses.Add(created.ToString());
        var id = created.GetProperty("id").GetGuid();

        // A config update that leaves the password out keeps it.
        responses.Add((await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{id}", SystemFixture.AdminKey,
            new { config = new { host = "127.0.0.1", port = smtp.Port, security = "none", from = "alerts@example.test", username = "mailer" } })).Body.ToString());
        foreach (var url in new[] { $"/admin/adapters/{id}", "/admin/adapters", $"/admin/adapters/{id}/history", "/admin/adapter-types" })
            responses.Add((await System.SendForStatusAsync(HttpMethod.Get, url, SystemFixture.AdminKey)).Body.ToString());
        responses.Add((await System.SendForStatusAsync(HttpMethod.Get, "/v1/adapters", System.Tenant.ApiKey)).Body.ToString());

        var adapter = (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{id}", SystemFixture.AdminKey)).Body;
        Assert.Equal("password", adapter.GetProperty("secretsSet")[0].GetString());
        Assert.All(responses, r => Assert.DoesNotContain(secret, r));

        // The worker decrypts it and logs in with it: the mail arrives only if the password is right.
        await System.StartEmailWorkerAsync(created.GetProperty("apiKey").GetString()!);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(name, "auth@example.test") } });
        Assert.Equal("Finished", (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State.ToString());
        Assert.Equal("alerts@example.test", Assert.Single(smtp.To("auth@example.test")).From.Mailboxes.Single().Address);

        var dump = await DumpDatabaseAsync();
        Assert.Contains(name, dump); // the dump does hold the adapter...
        Assert.DoesNotContain(secret, dump); // ...but not its password
    }

    private static async Task<string> DumpDatabaseAsync()
    {
        var cs = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres);
        var start = new ProcessStartInfo("pg_dump", ["--data-only", "-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username!, cs.Database!])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var dump = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        return dump;
    }
}
