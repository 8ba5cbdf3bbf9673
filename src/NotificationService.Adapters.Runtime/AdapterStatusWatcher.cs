using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NotificationService.Contracts;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using Npgsql;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// Follows the adapter's status in the database: while it is blocked (or deleted) the worker stops taking jobs from its
/// queue, finishing the ones in hand; when it is unblocked the worker resumes, without a restart.
/// </summary>
public sealed class AdapterStatusWatcher(
    IDocumentStore store, NpgsqlDataSource database, IWolverineRuntime runtime, WorkerContext worker, IConfiguration configuration,
    ILogger<AdapterStatusWatcher> logger)
    : BackgroundService
{
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(configuration.GetValue("Adapter:StatusPollSeconds", 2.0));
    // By key hash, through ns.adapter_for_key, as at start-up: the worker's role may not read the adapters table.
    private readonly string _keyHash = ApiKeys.Hash(configuration["Adapter:Key"] ?? "");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval);
        do
        {
            try { await ApplyStatusAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not read the adapter's status; trying again"); }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task ApplyStatusAsync(CancellationToken ct)
    {
        var adapter = await WorkerRole.AdapterForKeyAsync(database, store.Options.Serializer(), _keyHash, ct);
        var listener = runtime.Endpoints.FindListeningAgent(Topology.QueueUri(worker.Queue));
        if (listener is null) return;

        var shouldListen = adapter is { Status: AdapterStatus.Active };
        if (!shouldListen && listener.Status == ListeningStatus.Accepting)
        {
            logger.LogWarning("Adapter {Adapter} is {State}: stopped taking jobs", worker.AdapterName, adapter is null ? "deleted" : "blocked");
            await listener.StopAndDrainAsync();
        }
        else if (shouldListen && listener.Status != ListeningStatus.Accepting)
        {
            logger.LogInformation("Adapter {Adapter} is active: taking jobs again", worker.AdapterName);
            await listener.StartAsync();
        }
    }
}
