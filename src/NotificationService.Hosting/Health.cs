using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using NotificationService.Storage;
using RabbitMQ.Client;

namespace NotificationService.Hosting;

/// <summary>Readiness needs both stores of truth: PostgreSQL (documents, events, outbox) and the broker.</summary>
public static class Health
{
    public static IHealthChecksBuilder AddNotificationHealthChecks(this IServiceCollection services, string postgres, string rabbitMq)
    {
        services.AddSingleton<HealthReports>();
        // A factory, not an instance: the container disposes what it built, and with it the probe's connection.
        services.AddSingleton(_ => new BrokerProbe(rabbitMq));
        return services.AddHealthChecks()
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
            .AddCheck<BrokerProbe>("rabbitmq", timeout: TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// <c>/health</c>, open to anyone who can reach the port (probes carry no key), answered from
    /// <see cref="HealthReports"/>: 200 while Healthy or Degraded (the process serves), 503 when a dependency is down.
    /// </summary>
    public static IEndpointConventionBuilder MapNotificationHealth(this IEndpointRouteBuilder app) =>
        app.Map("/health", async context =>
        {
            var report = await context.RequestServices.GetRequiredService<HealthReports>().CurrentAsync().WaitAsync(context.RequestAborted);
            context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            // What MapHealthChecks sent: a proxy must not answer a probe from its cache.
            context.Response.Headers.CacheControl = "no-store, no-cache";
            context.Response.Headers.Pragma = "no-cache";
            context.Response.Headers.Expires = "Thu, 01 Jan 1970 00:00:00 GMT";
            await WriteReport(context, report);
        }).ExcludeFromDescription();

    /// <summary>A JSON body that says which dependency is down, not just a status code.</summary>
    public static Task WriteReport(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        });
}

/// <summary>
/// One run of the health checks serves every probe that arrives while it runs and for <see cref="Reuse"/> after it
/// ended. Each run costs a PostgreSQL query, a broker round trip and, in the core, a read of every adapter, and /health
/// needs no key: run per request, a flood of anonymous probes (320 a second from 8 connections) took 64 % of a CPU in
/// RabbitMQ, then opening a connection per probe, and raised a tenant's accept p50 from 4.3 to 15.1 ms (bench/README.md).
/// Orchestrators probe every few seconds; a report a second old is as good to them.
/// </summary>
public sealed class HealthReports(HealthCheckService checks, TimeProvider clock)
{
    public static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private Task<HealthReport>? _running;
    private (HealthReport Report, long At)? _last;
    private long _runs;

    /// <summary>Runs of the checks so far: how tests see that probes shared them.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    public Task<HealthReport> CurrentAsync()
    {
        lock (_gate)
        {
            if (_running is not null) return _running;
            if (_last is { } last && clock.GetElapsedTime(last.At) < Reuse) return Task.FromResult(last.Report);
            Interlocked.Increment(ref _runs);
            return _running = RunAsync();
        }
    }

    /// <summary>The next probe runs the checks again: for tests that changed what they report.</summary>
    public void Forget()
    {
        lock (_gate) _last = null;
    }

    private async Task<HealthReport> RunAsync()
    {
        await Task.Yield(); // _running is set before this can complete
        try
        {
            // Not the first caller's token: its abort must not fail the run the others wait for (each check has a timeout).
            var report = await checks.CheckHealthAsync(CancellationToken.None);
            lock (_gate) _last = (report, clock.GetTimestamp());
            return report;
        }
        finally
        {
            lock (_gate) _running = null;
        }
    }
}

/// <summary>
/// The broker is up if it answers on a connection kept for the probe: a channel opened and closed is one round trip,
/// where a connection per check was a TCP and AMQP handshake and a login on the broker each time. A connection that
/// failed a check (the broker restarted, or stopped answering) is dropped and a new one opened at the next check.
/// </summary>
public sealed class BrokerProbe(string rabbitMq) : IHealthCheck, IAsyncDisposable
{
    /// <summary>The connection's name on the broker: which process's probe it is, among the core's and the workers'.</summary>
    public static readonly string ConnectionName = $"ns-health-probe {Environment.MachineName}:{Environment.ProcessId}";

    private readonly SemaphoreSlim _one = new(1, 1);
    private IConnection? _connection;
    private bool _disposed;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        await _one.WaitAsync(ct);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is not { IsOpen: true })
            {
                Drop();
                _connection = await new ConnectionFactory
                {
                    Uri = new Uri(rabbitMq),
                    ClientProvidedName = ConnectionName,
                    // A broker that accepts the socket but does not answer (stopped, overloaded) fails the check in
                    // seconds: the client's own waits for a reply are 10 s (handshake) and 20 s (channel open).
                    RequestedConnectionTimeout = TimeSpan.FromSeconds(3),
                    HandshakeContinuationTimeout = TimeSpan.FromSeconds(3),
                    ContinuationTimeout = TimeSpan.FromSeconds(3),
                    AutomaticRecoveryEnabled = false, // replaced here, at the next check, instead
                }.CreateConnectionAsync(ct).WaitAsync(ct);
            }
            await using var channel = await _connection.CreateChannelAsync(cancellationToken: ct).WaitAsync(ct);
            await channel.CloseAsync(ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e)
        {
            Drop();
            return HealthCheckResult.Unhealthy("RabbitMQ is unreachable", e);
        }
        finally
        {
            _one.Release();
        }
    }

    /// <summary>
    /// Closed in the background: closing a connection to a broker that stopped answering waits out the client's abort
    /// timeout, and the probes waiting for this check must not wait with it.
    /// </summary>
    private void Drop()
    {
        if (_connection is not { } connection) return;
        _connection = null;
        _ = Task.Run(async () =>
        {
            try { await connection.DisposeAsync(); }
            catch (Exception) { /* the connection is being thrown away; nothing is left to do with it */ }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _one.WaitAsync(); // a check in flight ends first, and none starts after
        try
        {
            _disposed = true;
            if (_connection is not null) await _connection.DisposeAsync();
            _connection = null;
        }
        finally
        {
            _one.Release();
        }
    }
}
