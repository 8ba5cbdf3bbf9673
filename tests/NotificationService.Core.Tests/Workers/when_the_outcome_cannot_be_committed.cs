using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// The database refuses a delivered job's outcome (a trigger on the events table raises for that job's JobFinished): only
/// the commit may be retried, never the send.
/// </summary>
public sealed class when_the_outcome_cannot_be_committed(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_commit_is_retried_until_the_database_takes_it_and_the_job_is_sent_once()
    {
        var jobId = await ParkJobAsync(System.Email.Name, "once@example.test");
        await BreakOutcomeCommitAsync(jobId);
        try
        {
            await Eventually.Until(() => System.Smtp.To("once@example.test").Count() == 1, what: "the mail to arrive");
            // Several refused commits, counted by the trigger itself: each one would have been a resend before.
            await Eventually.Until(() => Sql.ScalarAsync<long>(RefusedCommits), refused => refused >= 3, what: "three refused commits");
        }
        finally
        {
            await RepairAsync();
        }

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(30));
        Assert.Equal(JobState.Finished, job.State);
        Assert.Single(System.Smtp.To("once@example.test"));
        Assert.Equal(0, job.PossibleDuplicates);
        Assert.Equal(["JobScheduled", "JobQueued", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_commit_that_keeps_failing_leaves_the_job_started_and_the_reconciler_sends_it_again_as_a_possible_duplicate()
    {
        var adapter = await System.CreateEmailAdapterAsync($"nocommit-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey, settings: new Dictionary<string, string?> { ["Adapter:OutcomeCommitSeconds"] = "1" });
        var jobId = await ParkJobAsync(adapter.Name, "kept@example.test");
        await BreakOutcomeCommitAsync(jobId);
        try
        {
            await Eventually.Until(() => System.Smtp.To("kept@example.test").Count() == 1, what: "the mail to arrive");
            await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue), depth => depth == 0, what: "the message to be settled");
            await System.StopWorkerAsync(worker); // drains what it holds: the handler has given up on the commit by now
        }
        finally
        {
            await RepairAsync();
        }

        var job = await System.GetJobAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Started, job.State);
        Assert.Single(System.Smtp.To("kept@example.test"));
        Assert.Equal(["JobScheduled", "JobQueued", "JobStarted"], await System.EventTypesAsync(System.Tenant, jobId));

        // Past the lease the reconciler re-queues it: the recipient may get it twice, and the job says so.
        var reconciler = System.Core.Services.GetRequiredService<JobReconciler>();
        Assert.Equal(1, await reconciler.ReconcileAsync(DateTimeOffset.UtcNow.AddMinutes(9), CancellationToken.None));
        await System.StartEmailWorkerAsync(adapter.ApiKey);
        job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(1, job.PossibleDuplicates);
        Assert.Equal(2, System.Smtp.To("kept@example.test").Count());
        Assert.Equal(["JobScheduled", "JobQueued", "JobStarted", "JobPossibleDuplicate", "JobRequeued", "JobStarted", "JobFinished"],
            await System.EventTypesAsync(System.Tenant, jobId));
    }

    /// <summary>A job queued in two seconds, so its id is known before any worker sees it.</summary>
    private async Task<Guid> ParkJobAsync(string adapter, string to)
    {
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(adapter, to) }, sendAt = DateTimeOffset.UtcNow.AddSeconds(2) });
        return offer.Jobs[0].Id;
    }

    /// <summary>The trigger counts what it refuses in a sequence, which a rolled-back transaction does not undo.</summary>
    private const string RefusedCommits = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ns.refused_outcomes";

    // SECURITY DEFINER: the worker's role, which inserts the events, may not use the counter's sequence.
    private static Task BreakOutcomeCommitAsync(Guid jobId) => Sql.ExecuteAsync($"""
        DROP SEQUENCE IF EXISTS ns.refused_outcomes; CREATE SEQUENCE ns.refused_outcomes;
        CREATE OR REPLACE FUNCTION ns.refuse_outcome() RETURNS trigger AS $$
        BEGIN PERFORM nextval('ns.refused_outcomes'); RAISE EXCEPTION 'injected outage'; END $$ LANGUAGE plpgsql SECURITY DEFINER;
        CREATE TRIGGER refuse_outcome BEFORE INSERT ON ns.mt_events FOR EACH ROW
          WHEN (NEW.type = 'job_finished' AND NEW.stream_id = '{jobId}') EXECUTE FUNCTION ns.refuse_outcome();
        """);

    private static Task RepairAsync() => Sql.ExecuteAsync("DROP TRIGGER IF EXISTS refuse_outcome ON ns.mt_events; DROP FUNCTION IF EXISTS ns.refuse_outcome(); DROP SEQUENCE IF EXISTS ns.refused_outcomes;");
}
