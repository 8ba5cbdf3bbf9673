using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using NotificationService.Storage;
using RabbitMQ.Client;

namespace NotificationService.Hosting;

/// <summary>Readiness needs both stores of truth: PostgreSQL (documents, events, outbox) and the broker.</summary>
public static class Health
{
    public static IHealthChecksBuilder AddNotificationHealthChecks(this IServiceCollection services, string postgres, string rabbitMq) =>
        services.AddHealthChecks()
            .AddAsyncCheck("postgres", async ct =>
            {
                try
                {
                    await using var connection = new NpgsqlConnection(NotificationStore.PooledConnectionString(postgres));
                    await connection.OpenAsync(ct);
                    await using var command = new NpgsqlCommand("select 1", connection);
                    await command.ExecuteScalarAsync(ct);
                    return HealthCheckResult.Healthy();
                }
                catch (Exception e) { return HealthCheckResult.Unhealthy("PostgreSQL is unreachable", e); }
            }, timeout: TimeSpan.FromSeconds(5))
            .AddAsyncCheck("rabbitmq", async ct =>
            {
                try
                {
                    var factory = new ConnectionFactory { Uri = new Uri(rabbitMq), RequestedConnectionTimeout = TimeSpan.FromSeconds(3) };
                    await using var connection = await factory.CreateConnectionAsync(ct);
                    return HealthCheckResult.Healthy();
                }
                catch (Exception e) { return HealthCheckResult.Unhealthy("RabbitMQ is unreachable", e); }
            }, timeout: TimeSpan.FromSeconds(5));

    /// <summary>A JSON body that says which dependency is down, not just a status code.</summary>
    public static Task WriteReport(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        });
}
