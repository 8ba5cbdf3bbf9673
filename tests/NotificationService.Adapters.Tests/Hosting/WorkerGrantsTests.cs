using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Tests.Hosting;

/// <summary><c>Database:WorkerRole</c> goes into GRANT statements as an identifier, so the core checks it when it starts.</summary>
public sealed class WorkerGrantsTests
{
    [Theory]
    [InlineData("ns-worker")]
    [InlineData("NS_WORKER")]
    [InlineData("ns_worker; DROP SCHEMA ns CASCADE")]
    [InlineData("\"ns_worker\"")]
    [InlineData("1worker")]
    [InlineData("a_name_longer_than_the_sixty_three_bytes_postgresql_keeps_of_any_name")]
    public void a_role_name_that_is_not_a_plain_identifier_stops_the_start(string role)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => Register(role));
        Assert.Contains("Database:WorkerRole", refused.Message);
    }

    [Fact]
    public void the_default_role_is_granted_and_an_empty_one_turns_the_grants_off()
    {
        Assert.Single(Register(null), s => s.ServiceType == typeof(IHostedService));
        Assert.Single(Register("workers_eu"), s => s.ServiceType == typeof(IHostedService));
        Assert.DoesNotContain(Register("").ToList(), s => s.ServiceType == typeof(IHostedService));
    }

    private static IServiceCollection Register(string? role)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Database:WorkerRole"] = role }).Build();
        return new ServiceCollection().AddWorkerGrants(configuration, "Host=127.0.0.1;Database=unused");
    }
}
