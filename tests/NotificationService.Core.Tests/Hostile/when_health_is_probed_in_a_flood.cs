using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Hosting;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>
/// <c>/health</c> needs no key, so anyone who reaches the port can call it as fast as they like. Each call ran the checks,
/// a PostgreSQL query, a read of every adapter and a new RabbitMQ connection; 320 probes a second took 64 % of a CPU in
/// the broker and slowed every tenant's requests (bench/README.md). Probes now share one run a second, and the broker
/// check keeps its connection.
/// </summary>
public sealed class when_health_is_probed_in_a_flood(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task probes_share_one_run_of_the_checks_a_second_and_one_broker_connection()
    {
        var reports = System.Core.Services.GetRequiredService<HealthReports>();
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, "/health", null)).Status); // the probe's connection is open from here on
        var connectionsBefore = await ProbeConnectionsAsync();
        var runsBefore = reports.Runs;

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var flooding = Stopwatch.StartNew();
        var flood = Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            var seen = new List<string>();
            while (!stop.IsCancellationRequested)
            {
                var (status, body) = await System.SendForStatusAsync(HttpMethod.Get, "/health", null);
                seen.Add($"{status} {body.GetProperty("status").GetString()}");
            }
            return seen;
        })));
        // A tenant's offers while the flood runs are all accepted.
        var offers = new List<int>();
        while (!stop.IsCancellationRequested)
            offers.Add((await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
                new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "flood@example.test") } })).Status);
        var probes = await flood;
        var seconds = flooding.Elapsed.TotalSeconds;

        var all = probes.SelectMany(p => p).ToList();
        Assert.True(all.Count > 100, $"only {all.Count} probes were sent");
        Assert.All(all, seen => Assert.Equal("200 Healthy", seen));
        var runs = reports.Runs - runsBefore;
        Assert.True(runs <= Math.Ceiling(seconds / HealthReports.Reuse.TotalSeconds) + 1, $"{all.Count} probes in {seconds:0.0} s ran the checks {runs} times");
        // The same connection before and after: no connection was opened or closed for the flood.
        Assert.NotEmpty(connectionsBefore);
        Assert.Equal(connectionsBefore, await ProbeConnectionsAsync());
        Assert.NotEmpty(offers);
        Assert.All(offers, status => Assert.Equal(202, status));
    }

    [Fact]
    public async Task a_probe_connection_the_broker_closed_is_replaced_at_the_next_check()
    {
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, "/health", null)).Status);
        var before = await ProbeConnectionsAsync();
        Assert.NotEmpty(before);
        foreach (var name in before) await TestEnvironment.RabbitMqCtlAsync("close_connection", name, "closed by a test");

        System.Core.Services.GetRequiredService<HealthReports>().Forget(); // not the report the probe above got
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Get, "/health", null);
        Assert.Equal(200, status);
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("rabbitmq").GetProperty("status").GetString());
        var after = await ProbeConnectionsAsync();
        Assert.NotEmpty(after);
        Assert.Empty(after.Intersect(before));
    }

    /// <summary>The broker's process ids (what close_connection takes) of this process's health-probe connections, in order.</summary>
    private static async Task<List<string>> ProbeConnectionsAsync()
    {
        // The connection's own name (ClientProvidedName) is among its client properties.
        var listed = await TestEnvironment.RabbitMqCtlAsync("list_connections", "--no-table-headers", "--quiet", "pid", "client_properties");
        return listed.Split('\n')
            .Where(line => line.Contains($"{{\"connection_name\",\"{BrokerProbe.ConnectionName}\"}}", StringComparison.Ordinal))
            .Select(line => line.Split('\t')[0])
            .Order(StringComparer.Ordinal)
            .ToList();
    }
}
