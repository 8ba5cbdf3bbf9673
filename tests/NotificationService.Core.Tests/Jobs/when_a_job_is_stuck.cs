using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Jobs;
using NotificationService.Core.Tests.Storage;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// Faults injected into the real system, then one reconciler round as of a time past the lease or bound (the same
/// round the core runs every <c>Jobs:ReconcileSeconds</c>).
/// </summary>
public sealed class when_a_job_is_stuck(SystemFixture system) : IntegrationContext(system)
{
    private JobReconciler Reconciler => System.Core.Services.GetRequiredService<JobReconciler>();

    [Fact]
    public async Task a_started_job_whose_worker_died_is_requeued_as_a_possible_duplicate_and_delivered_once_more()
    {
        var (adapter, jobId) = await QueueWithoutWorkerAsync("died@example.test");
        // A worker took it, recorded the start and died: its message is gone, nothing else will ever move the job.
        await Broker.PurgeAsync(adapter.Queue);
        await using (var session = System.Core.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            session.Events.Append(jobId, new JobStarted(jobId, 1, "dead-worker", DateTimeOffset.UtcNow));
            await session.SaveChangesAsync();
        }

        Assert.Equal(0, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddMinutes(7), CancellationToken.None)); // within the lease (8 min)
        // Two core instances reconciling at once act once.
        var later = DateTimeOffset.UtcNow.AddMinutes(9);
        var acted = await Task.WhenAll(Reconciler.ReconcileAsync(later, CancellationToken.None), Reconciler.ReconcileAsync(later, CancellationToken.None));
        Assert.Equal(1, acted.Sum());

        await System.StartEmailWorkerAsync(adapter.ApiKey);
        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(1, job.PossibleDuplicates);
        Assert.Single(System.Smtp.To("died@example.test"));
        Assert.Equal(["JobQueued", "JobStarted", "JobPossibleDuplicate", "JobRequeued", "JobStarted", "JobFinished"],
            await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_queued_job_whose_message_was_lost_is_republished_and_delivered()
    {
        var (adapter, jobId) = await QueueWithoutWorkerAsync("lost@example.test");
        await Broker.PurgeAsync(adapter.Queue);

        Assert.Equal(1, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddMinutes(11), CancellationToken.None));
        Assert.Equal(0, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddMinutes(11), CancellationToken.None)); // its new message waits now

        await System.StartEmailWorkerAsync(adapter.ApiKey);
        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(0, job.PossibleDuplicates);
        Assert.Single(System.Smtp.To("lost@example.test"));
        Assert.Equal(["JobQueued", "JobRequeued", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_queued_job_with_a_retry_stored_for_later_is_left_alone_until_that_message_is_deleted()
    {
        var (adapter, jobId) = await QueueWithoutWorkerAsync("stored@example.test");
        await Broker.PurgeAsync(adapter.Queue);
        // A worker's scheduled retry waits in its envelope table (due far in the future, so no worker sends it here).
        var envelope = Guid.NewGuid();
        await Sql.ExecuteAsync($$"""
            INSERT INTO wolverine_adapters.wolverine_incoming_envelopes (id, status, owner_id, execution_time, body, message_type)
            VALUES ('{{envelope}}', 'Scheduled', 0, now() + interval '10 years', convert_to('{"jobId":"{{jobId}}"}', 'UTF8'), 'NotificationService.Contracts.DeliverJob')
            """);
        try
        {
            Assert.Equal(0, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None));
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM wolverine_adapters.wolverine_incoming_envelopes WHERE id = '{envelope}'");
        }
        Assert.Equal(1, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None));
        Assert.Equal(["JobQueued", "JobRequeued"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_queued_job_whose_message_still_waits_in_the_queue_is_left_alone()
    {
        var (_, jobId) = await QueueWithoutWorkerAsync("waiting@example.test");
        Assert.Equal(0, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None));
        Assert.Equal(["JobQueued"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_message_superseded_by_a_requeue_is_skipped_so_the_job_is_sent_once()
    {
        // The "lost" message turns up after all (it was only late): the worker gets both and sends once.
        var (adapter, jobId) = await QueueWithoutWorkerAsync("late@example.test");
        await using (var session = System.Core.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            var stream = await session.Events.FetchForExclusiveWriting<Job>(jobId);
            var requeued = JobLifecycle.OnStuck(stream.Aggregate!, stream.Aggregate!.Version, DateTimeOffset.UtcNow,
                JobReconciler.Bounds(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build()), true, DateTimeOffset.UtcNow.AddHours(1));
            stream.AppendMany(requeued);
            await session.SaveChangesAsync();
        }

        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey);
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue), depth => depth == 0, what: "the worker to take the message");
        await System.StopWorkerAsync(worker); // stopping drains what it holds, so its decision is made
        Assert.Empty(System.Smtp.To("late@example.test")); // its only message was of the superseded generation
        Assert.Equal(JobState.Queued, (await System.GetJobAsync(System.Tenant, jobId)).State);
    }

    [Fact]
    public async Task the_workers_envelope_tables_are_read_with_the_workers_rights_and_never_the_cores()
    {
        var (adapter, jobId) = await QueueWithoutWorkerAsync("probe@example.test");
        await Broker.PurgeAsync(adapter.Queue);
        // A compromised worker owns its envelope schema: it replaces a table with a view whose function runs as whoever
        // reads the view, here counting who that is in a sequence per role (a sequence outlives the reader's transaction,
        // which the reconciler rolls back; a real attack would copy the adapters' secrets instead).
        await WorkerSqlAsync("""
            CREATE SEQUENCE wolverine_adapters.read_by_ns_worker;
            CREATE SEQUENCE wolverine_adapters.read_by_ns_core;
            CREATE FUNCTION wolverine_adapters.probe_reader() RETURNS boolean LANGUAGE plpgsql AS
              $$ BEGIN PERFORM nextval(format('wolverine_adapters.%I', 'read_by_' || current_user)); RETURN true; END $$;
            ALTER TABLE wolverine_adapters.wolverine_outgoing_envelopes RENAME TO outgoing_envelopes_aside;
            CREATE VIEW wolverine_adapters.wolverine_outgoing_envelopes AS
              SELECT * FROM wolverine_adapters.outgoing_envelopes_aside WHERE (SELECT wolverine_adapters.probe_reader());
            """);
        bool readByCore, readByWorker;
        try
        {
            Assert.Equal(1, await Reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddMinutes(11), CancellationToken.None));
        }
        finally
        {
            readByCore = await Sql.ScalarAsync<bool>("SELECT is_called FROM wolverine_adapters.read_by_ns_core");
            readByWorker = await Sql.ScalarAsync<bool>("SELECT is_called FROM wolverine_adapters.read_by_ns_worker");
            await WorkerSqlAsync("""
                DROP VIEW wolverine_adapters.wolverine_outgoing_envelopes;
                ALTER TABLE wolverine_adapters.outgoing_envelopes_aside RENAME TO wolverine_outgoing_envelopes;
                DROP FUNCTION wolverine_adapters.probe_reader();
                DROP SEQUENCE wolverine_adapters.read_by_ns_worker, wolverine_adapters.read_by_ns_core;
                """);
        }
        Assert.True(readByWorker, "the reconciler read the workers' table (as their role)");
        Assert.False(readByCore, "the workers' table was read with the core's rights");
        Assert.Equal(["JobQueued", "JobRequeued"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_round_can_find_its_candidates_without_reading_every_finished_job()
    {
        // A round that had to read every job (and its last event) cost 11 s with a million finished ones.
        var scans = await QueryPlans.ScansAsync(JobReconciler.CandidatesSql.Replace("@startedBefore", "$1").Replace("@queuedBefore", "$2"),
            "mt_doc_job", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        Assert.NotEmpty(scans);
        Assert.DoesNotContain(scans, s => s.NodeType == "Seq Scan");
    }

    private static async Task WorkerSqlAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.WorkerPostgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<(RegisteredAdapter Adapter, Guid JobId)> QueueWithoutWorkerAsync(string to)
    {
        var adapter = await System.CreateEmailAdapterAsync($"stuck-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(adapter.Name, to) } });
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue, missingIsEmpty: true), depth => depth == 1, what: "the job's message to reach the queue");
        return (adapter, offer.Jobs[0].Id);
    }
}
