using System.Text;
using JasperFx.Events;
using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;
using Marten;
using NotificationService.Contracts;
using NotificationService.Hosting;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Wolverine;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

/// <summary>The reconciler found this job stuck, unchanged since <paramref name="LastChangeAt"/> at stream version <paramref name="Version"/>.</summary>
public sealed record ReconcileStuckJob(Guid JobId, long Version, DateTimeOffset LastChangeAt, DateTimeOffset DetectedAt);

/// <summary>Whether this reconciliation changed the job (false: someone else acted first).</summary>
public sealed record StuckJobReconciled(bool Acted);

/// <summary>
/// Re-queues one stuck job under its stream lock. The version check makes the decision once per stuck state: a second
/// core's reconciler (or a worker) that got there first changed the version, and this becomes a no-op.
/// </summary>
public static class ReconcileStuckJobHandler
{
    public static async Task<Adapter?> LoadAsync(ReconcileStuckJob message, IQuerySession session) =>
        await session.LoadAsync<Job>(message.JobId) is { } job ? await session.LoadAsync<Adapter>(job.AdapterId) : null;

    public static (StuckJobReconciled, Events, OutgoingMessages) Handle(
        ReconcileStuckJob message, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] Job job, Adapter? adapter, StuckJobBounds bounds, FairShare fairShare)
    {
        var messages = new OutgoingMessages();
        var events = JobLifecycle.OnStuck(job, message.Version, message.LastChangeAt, bounds, adapter is not null, message.DetectedAt);
        foreach (var requeued in events.OfType<JobRequeued>())
            messages.Add(fairShare.Deliver(job.Id, job.ServiceId, adapter!, requeued.Generation));
        return (new StuckJobReconciled(events.Count > 0), [.. events], messages);
    }
}

/// <summary>
/// Finds jobs nothing will ever move: Started with no outcome past the lease (the worker died, or its outcome commit
/// failed for good) and Queued past a bound with no message for them in flight (lost between an adapter delete and a
/// racing offer, or a purged queue). "In flight" means a row naming the job in the core's outbox or in the workers'
/// envelope tables (a scheduled retry), or any message ready in the adapter's queue (a backlog, or no worker running):
/// then the job waits its turn. Re-publishing is safe even when the check is wrong: the new message carries a new
/// generation and a worker skips the older one. Every core instance runs this; the handler's version check under the
/// stream lock lets only the first act on each stuck state.
/// </summary>
public sealed class JobReconciler(
    IDocumentStore store, IServiceScopeFactory scopes, StuckJobBounds bounds, TimeProvider clock, IConfiguration configuration, ILogger<JobReconciler> logger)
    : BackgroundService
{
    private readonly TimeSpan _interval = TimeSpan.FromSeconds(configuration.GetValue("Jobs:ReconcileSeconds", 30.0));

    public static StuckJobBounds Bounds(IConfiguration configuration) => new(
        TimeSpan.FromSeconds(configuration.GetValue("Jobs:StartedLeaseSeconds", 480.0)),
        TimeSpan.FromSeconds(configuration.GetValue("Jobs:QueuedBoundSeconds", 600.0)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_interval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(_interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await ReconcileAsync(clock.GetUtcNow(), stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Job reconciliation failed; the next round retries"); }
        }
    }

    private sealed record Candidate(Guid JobId, Guid AdapterId, JobState State, long Version, DateTimeOffset LastChangeAt);

    /// <summary>One round as of <paramref name="now"/>; returns how many jobs were re-queued or ended.</summary>
    public async Task<int> ReconcileAsync(DateTimeOffset now, CancellationToken ct)
    {
        var candidates = await FindCandidatesAsync(now, ct);
        if (candidates.Count == 0) return 0;
        var busyQueues = await QueuesWithReadyMessagesAsync(candidates.Where(c => c.State == JobState.Queued).Select(c => c.AdapterId).ToHashSet(), ct);

        var acted = 0;
        foreach (var candidate in candidates)
        {
            if (candidate.State == JobState.Queued && (busyQueues.Contains(candidate.AdapterId) || await HasMessageInFlightAsync(candidate.JobId, ct))) continue;
            await using var scope = scopes.CreateAsyncScope();
            var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
            // No answer when the job's stream or document is gone (deleted by the retention sweep, or a projection rebuild
            // emptied mt_doc_job meanwhile): Wolverine's null guard stops the handler, and the round goes on.
            if (await bus.InvokeAsync<StuckJobReconciled?>(new ReconcileStuckJob(candidate.JobId, candidate.Version, candidate.LastChangeAt, now), ct) is { Acted: true })
                acted++;
        }
        if (acted > 0) logger.LogWarning("Reconciled {Count} stuck jobs (re-queued or ended)", acted);
        return acted;
    }

    /// <summary>
    /// The stuck candidates with the last event of each stream, which gives the version the decision is checked against
    /// and the time of the last change. The state test on the job alone lets PostgreSQL read the unfinished jobs from their
    /// index; spelt only inside the OR, it read every job's last event (11 s a round with a million finished jobs).
    /// </summary>
    public const string CandidatesSql = $"""
        SELECT j.id, (j.data->>'adapterId')::uuid, j.state, last.version, last.timestamp
        FROM {NotificationStore.Schema}.mt_doc_job j
        CROSS JOIN LATERAL (SELECT e.version, e.timestamp FROM {NotificationStore.Schema}.mt_events e
                            WHERE e.stream_id = j.id ORDER BY e.version DESC LIMIT 1) last
        WHERE j.state IN ('Started', 'Queued')
          AND ((j.state = 'Started' AND last.timestamp <= @startedBefore)
               OR (j.state = 'Queued' AND last.timestamp <= @queuedBefore))
        ORDER BY last.timestamp LIMIT 500
        """;

    private async Task<List<Candidate>> FindCandidatesAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var connection = await session.OpenConnectionAsync(ct);
        await using var command = new NpgsqlCommand(CandidatesSql, connection);
        command.Parameters.AddWithValue("startedBefore", now - bounds.StartedLease);
        command.Parameters.AddWithValue("queuedBefore", now - bounds.QueuedBound);
        var found = new List<Candidate>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            found.Add(new Candidate(reader.GetGuid(0), reader.GetGuid(1), Enum.Parse<JobState>(reader.GetString(2)), reader.GetInt64(3),
                reader.GetFieldValue<DateTimeOffset>(4)));
        return found;
    }

    /// <summary>A message naming the job waits in the core's outbox or the workers' envelope tables (e.g. a scheduled retry).</summary>
    private async Task<bool> HasMessageInFlightAsync(Guid jobId, CancellationToken ct)
    {
        // A connection of its own: a session's is already in a transaction, and this one changes its role for a while.
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await AnyNamingAsync(connection, transaction, jobId, ["wolverine.wolverine_outgoing_envelopes"], ct)) return true;

        // The workers' envelope tables live in a schema the workers' role owns, so a compromised worker could replace one
        // with a view (or give it a policy) whose functions run as whoever reads it: they are read as that role, never as
        // the core, which owns the store. (No such role configured or created: every process is one role anyway.)
        var role = configuration["Database:WorkerRole"] ?? WorkerRole.DefaultName;
        if (role.Length > 0 && WorkerRole.ValidName().IsMatch(role))
        {
            await using var member = new NpgsqlCommand("SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = @role", connection, transaction);
            member.Parameters.AddWithValue("role", role);
            if (await member.ExecuteScalarAsync(ct) is true)
            {
                await using var setRole = new NpgsqlCommand($"SET LOCAL ROLE {role}", connection, transaction);
                await setRole.ExecuteNonQueryAsync(ct);
            }
        }
        return await AnyNamingAsync(connection, transaction, jobId,
            [$"{WorkerRole.EnvelopeSchema}.wolverine_outgoing_envelopes", $"{WorkerRole.EnvelopeSchema}.wolverine_incoming_envelopes"], ct);
    }

    private static async Task<bool> AnyNamingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid jobId, string[] candidates, CancellationToken ct)
    {
        var tables = new List<string>();
        foreach (var table in candidates)
        {
            await using var exists = new NpgsqlCommand("SELECT to_regclass(@table) IS NOT NULL", connection, transaction);
            exists.Parameters.AddWithValue("table", table);
            if ((bool)(await exists.ExecuteScalarAsync(ct))!) tables.Add(table);
        }
        if (tables.Count == 0) return false;
        // The envelope body holds the message's JSON, where the job id appears in its usual text form.
        var sql = string.Join(" UNION ALL ", tables.Select(t => $"SELECT 1 FROM {t} WHERE position(@id IN body) > 0"
                                                                     + (t.EndsWith("incoming_envelopes") ? " AND status <> 'Handled'" : "")));
        await using var command = new NpgsqlCommand($"SELECT EXISTS ({sql})", connection, transaction);
        command.Parameters.AddWithValue("id", Encoding.UTF8.GetBytes(jobId.ToString()));
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Adapters whose queue has messages waiting (or cannot be read): their queued jobs may just be waiting their turn.</summary>
    private async Task<HashSet<Guid>> QueuesWithReadyMessagesAsync(HashSet<Guid> adapterIds, CancellationToken ct)
    {
        var busy = new HashSet<Guid>();
        if (adapterIds.Count == 0) return busy;
        IReadOnlyList<Adapter> adapters;
        await using (var session = store.QuerySession())
            adapters = await session.LoadManyAsync<Adapter>(ct, adapterIds);
        try
        {
            var factory = new ConnectionFactory { Uri = new Uri(configuration.RequiredConnectionString("RabbitMq")) };
            await using var connection = await factory.CreateConnectionAsync(ct);
            foreach (var adapter in adapters)
            {
                await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
                try { if ((await channel.QueueDeclarePassiveAsync(adapter.Queue, ct)).MessageCount > 0) busy.Add(adapter.Id); }
                catch (OperationInterruptedException) { } // no such queue: nothing can be waiting in it
            }
        }
        catch (BrokerUnreachableException e)
        {
            // Without the broker nothing can be re-published anyway; wait for the next round.
            logger.LogDebug(e, "RabbitMQ unreachable; queued jobs are not reconciled this round");
            return adapterIds;
        }
        return busy;
    }
}
