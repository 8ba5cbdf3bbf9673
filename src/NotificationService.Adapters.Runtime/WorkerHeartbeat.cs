using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// Tells the core this worker node is alive, every <c>Adapter:HeartbeatSeconds</c> (default 10): node, host, version,
/// parallelism and sends in hand, as a row of <see cref="WorkerHeartbeats"/> (README "Live worker status" says why a row
/// rather than a message). A clean stop removes the row; a killed worker's row stops moving and ages out in the core.
/// </summary>
public sealed class WorkerHeartbeat(
    NpgsqlDataSource database, WorkerContext worker, InFlightJobs inFlight, IConfiguration configuration, int parallelism,
    ILogger<WorkerHeartbeat> logger) : BackgroundService
{
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(configuration.GetValue("Adapter:HeartbeatSeconds", 10.0));
    // By key hash, as the status watcher reads the adapter: the row's adapter is the one this key belongs to.
    private readonly string _keyHash = ApiKeys.Hash(configuration["Adapter:Key"] ?? "");

    public static string Version { get; } =
        typeof(WorkerHeartbeat).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval);
        do
        {
            try
            {
                if (!await WorkerHeartbeats.BeatAsync(database, _keyHash, worker.Node, Environment.MachineName, Version, parallelism, inFlight.Count, stoppingToken))
                    logger.LogWarning("No adapter has this worker's key any more (deleted?): heartbeat not recorded");
            }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not record the heartbeat; trying again"); }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try { await WorkerHeartbeats.GoneAsync(database, _keyHash, worker.Node, cancellationToken); }
        catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not remove the heartbeat; it ages out in the core"); }
    }
}

public static class WorkerHeartbeatConfiguration
{
    /// <summary>Registered after Wolverine: started once the listeners run, stopped (row removed) before they drain.</summary>
    public static IServiceCollection AddWorkerHeartbeat(this IServiceCollection services, IConfiguration configuration, int parallelism) =>
        !(configuration.GetValue("Adapter:HeartbeatSeconds", 10.0) is > 0 and <= 3600)
            ? throw new InvalidOperationException("Set Adapter:HeartbeatSeconds to a number of seconds above 0 and at most 3600 (default 10), below the core's Workers:LiveSeconds.")
            : services.AddHostedService(sp => new WorkerHeartbeat(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<WorkerContext>(),
            sp.GetRequiredService<InFlightJobs>(), configuration, parallelism, sp.GetRequiredService<ILogger<WorkerHeartbeat>>()));
}
