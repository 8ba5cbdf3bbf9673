using System.Collections.Immutable;
using Marten;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace NotificationService.Core.Adapters;

/// <summary>The last sampled depths of each adapter's queue, oldest first; read by the admin API without a broker round trip.</summary>
public sealed class QueueDepths
{
    public sealed record Sample(long? Depth, ImmutableList<long> Recent, DateTimeOffset At);

    private ImmutableDictionary<Guid, Sample> _latest = ImmutableDictionary<Guid, Sample>.Empty;

    public Sample? For(Guid adapterId) => _latest.GetValueOrDefault(adapterId);

    /// <summary>One round of samples; <paramref name="keep"/> depths are kept per adapter (K + 1 for a rise over K samples).</summary>
    public void Record(IReadOnlyDictionary<Guid, long?> depths, DateTimeOffset at, int keep)
    {
        var previous = _latest;
        _latest = depths.ToImmutableDictionary(d => d.Key, d =>
        {
            var recent = previous.GetValueOrDefault(d.Key)?.Recent ?? [];
            // A queue that could not be read breaks the run: a rise must be seen at consecutive samples.
            recent = d.Value is { } depth ? recent.Add(depth) : [];
            return new Sample(d.Value, recent.Count > keep ? recent.RemoveRange(0, recent.Count - keep) : recent, at);
        });
    }
}

/// <summary>
/// Every Workers:SampleSeconds, the depth of each adapter's queue by a passive declare over one AMQP channel (the
/// broker answers with the ready message count, cheaply), so <c>GET /admin/adapters</c> costs no broker round trip per
/// adapter. It also deletes heartbeat rows long dead (ten liveness bounds) or of deleted adapters.
/// </summary>
public sealed class QueueDepthSampler(
    IDocumentStore store, QueueDepths depths, LiveStatusSettings settings, string rabbitMq, TimeProvider clock, ILogger<QueueDepthSampler> logger)
    : BackgroundService
{
    private IConnection? _connection;
    private IChannel? _channel;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.SampleInterval);
        do
        {
            try { await SampleAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Could not sample the adapter queues; the next round retries"); }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task SampleAsync(CancellationToken ct)
    {
        IReadOnlyList<(Guid Id, string Queue)> adapters;
        await using (var session = store.QuerySession())
            adapters = (await session.Query<Adapter>().Select(a => new { a.Id, a.Queue }).ToListAsync(ct)).Select(a => (a.Id, a.Queue)).ToList();
        // A connection of its own: a query session's transaction is read-only.
        await using (var connection = store.Storage.Database.CreateConnection())
        {
            await connection.OpenAsync(ct);
            await using var cleanup = new Npgsql.NpgsqlCommand($"""
                DELETE FROM {WorkerHeartbeats.Table} h
                WHERE h.last_seen < now() - @dead OR NOT EXISTS (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_adapter a WHERE a.id = h.adapter_id)
                """, connection);
            cleanup.Parameters.AddWithValue("dead", settings.LiveBound * 10);
            await cleanup.ExecuteNonQueryAsync(ct);
        }

        var sampled = new Dictionary<Guid, long?>();
        foreach (var (id, queue) in adapters) sampled[id] = await DepthAsync(queue, ct);
        depths.Record(sampled, clock.GetUtcNow(), settings.BacklogSamples + 1);
    }

    private async Task<long?> DepthAsync(string queue, CancellationToken ct)
    {
        if (_connection is not { IsOpen: true })
        {
            if (_connection is not null) await _connection.DisposeAsync();
            _connection = await new ConnectionFactory { Uri = new Uri(rabbitMq), ClientProvidedName = "ns-core-queue-depths" }.CreateConnectionAsync(ct);
            _channel = null;
        }
        if (_channel is not { IsOpen: true }) _channel = await _connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            return (await _channel.QueueDeclarePassiveAsync(queue, ct)).MessageCount;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return null; // not declared yet (no worker ever started and no job sent); the broker closed the channel
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Best effort: a channel whose connection the client already tore down throws ObjectDisposedException from its
        // own bookkeeping (seen in CI as a host that failed to stop), and nothing is left to release by then.
        try
        {
            if (_channel is not null) await _channel.DisposeAsync();
            if (_connection is not null) await _connection.DisposeAsync();
        }
        catch (ObjectDisposedException e)
        {
            logger.LogDebug(e, "The queue-depth connection was already disposed");
        }
    }
}
