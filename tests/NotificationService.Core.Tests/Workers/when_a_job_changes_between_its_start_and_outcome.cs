using System.Diagnostics;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// The worker appends an attempt's outcome at the stream version of its own start, deciding from the job as it committed
/// it (JobJournal's held copy), without locking or reading the job. Whatever another process commits in between (a
/// cancel from the core, the reconciler's re-queue) must win: the optimistic append fails and the outcome is decided
/// again from the job as it now is, under its lock.
/// </summary>
public sealed class when_a_job_changes_between_its_start_and_outcome(SystemFixture system) : IntegrationContext(system)
{
    private IDocumentStore Store => System.Core.Services.GetRequiredService<IDocumentStore>();
    private JobJournal Journal => new(Store, NullLogger<JobJournal>.Instance);

    /// <summary>A queued job, started through the journal as the worker does: returns what the worker then holds.</summary>
    private async Task<Job> StartedJobAsync(JobJournal journal)
    {
        var id = Guid.NewGuid();
        await using (var session = Store.LightweightSession())
        {
            session.Events.StartStream<Job>(id, new JobQueued(id, Guid.NewGuid(), System.Tenant.Id, System.Email.Id, System.Email.Name,
                JsonSerializer.SerializeToElement(new { }), DateTimeOffset.UtcNow, null));
            await session.SaveChangesAsync();
        }
        Job? held = null;
        await journal.AppendAsync(id, job =>
        {
            var started = JobLifecycle.OnPickUp(job, "worker-under-test", DateTimeOffset.UtcNow) is PickUp.Send send ? send.Events : [];
            held = job!.AfterStart(started); // as DeliverJobHandler does: copied before the commit applies the events to `job`
            return started;
        });
        return held!;
    }

    /// <summary>The outcome decision the worker makes, recording which copy of the job each run decided from.</summary>
    private static JobJournal.Decide Outcome(DeliveryResult result, List<Job?> decidedFrom) => job =>
    {
        decidedFrom.Add(job);
        return job is null ? [] : JobLifecycle.OnAttemptEnded(job, job.Attempts, result, false, new DeliveryPolicy(), DateTimeOffset.UtcNow, 0.5).Events;
    };

    private async Task AppendAsync(Guid jobId, params object[] events)
    {
        await using var session = Store.LightweightSession();
        session.Events.Append(jobId, events);
        await session.SaveChangesAsync();
    }

    private async Task<(Job Job, string[] Events)> StoredAsync(Guid jobId)
    {
        await using var session = Store.QuerySession();
        var events = await session.Events.FetchStreamAsync(jobId);
        return ((await session.LoadAsync<Job>(jobId))!, events.Select(e => e.Data.GetType().Name).ToArray());
    }

    [Fact]
    public async Task the_held_copy_is_the_committed_job_and_its_outcome_commits_from_it_alone()
    {
        var journal = Journal;
        var held = await StartedJobAsync(journal);
        var (stored, _) = await StoredAsync(held.Id);
        Assert.Equal(JsonSerializer.Serialize(stored), JsonSerializer.Serialize(held)); // version included

        var decidedFrom = new List<Job?>();
        await journal.AppendAsync(held.Id, Outcome(new DeliveryResult.Delivered(), decidedFrom), held);

        // One decision, from the held copy: no read, no lock, no second try.
        Assert.Same(held, Assert.Single(decidedFrom));
        var (job, events) = await StoredAsync(held.Id);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(3, job.Version);
        Assert.Equal(["JobQueued", "JobStarted", "JobFinished"], events);
    }

    [Fact]
    public async Task the_held_copy_of_a_redelivered_start_equals_the_live_aggregation_and_the_stored_job()
    {
        var journal = Journal;
        // First start, by a worker that then died mid-send: the next pick-up appends [JobPossibleDuplicate, JobStarted].
        var first = await StartedJobAsync(journal);
        Job? held = null;
        await journal.AppendAsync(first.Id, job =>
        {
            var started = Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "second-worker", DateTimeOffset.UtcNow)).Events;
            held = job!.AfterStart(started);
            return started;
        });

        var (stored, events) = await StoredAsync(first.Id);
        Assert.Equal(["JobQueued", "JobStarted", "JobPossibleDuplicate", "JobStarted"], events);
        await using var session = Store.QuerySession();
        var live = await session.Events.AggregateStreamAsync<Job>(first.Id);
        Assert.Equal(JsonSerializer.Serialize(live), JsonSerializer.Serialize(held)); // version included
        Assert.Equal(JsonSerializer.Serialize(stored), JsonSerializer.Serialize(held));
        Assert.Equal(2, held!.Attempts);
    }

    [Fact]
    public async Task the_held_copy_of_a_first_start_equals_the_live_aggregation()
    {
        var held = await StartedJobAsync(Journal);
        await using var session = Store.QuerySession();
        var live = await session.Events.AggregateStreamAsync<Job>(held.Id);
        Assert.Equal(JsonSerializer.Serialize(live), JsonSerializer.Serialize(held));
        Assert.Equal(2, held.Version);
    }

    [Fact]
    public async Task a_cancel_committed_between_the_starts_read_and_its_append_wins_and_nothing_is_started()
    {
        var id = Guid.NewGuid();
        await AppendAsync(id, new JobQueued(id, Guid.NewGuid(), System.Tenant.Id, System.Email.Id, System.Email.Name,
            JsonSerializer.SerializeToElement(new { }), DateTimeOffset.UtcNow, null));
        var decidedFrom = new List<JobState?>(); // the states, not the copies: a failed commit's projection may have changed its copy

        await Journal.AppendAsync(id, job =>
        {
            decidedFrom.Add(job?.State);
            // The core's cancel, committed after the worker read the job and before its start is appended. The read took no
            // lock (a locked read would make this wait for the worker, and the worker for it).
            if (decidedFrom.Count == 1)
                AppendAsync(id, [.. Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(job!, "tenant", DateTimeOffset.UtcNow)).Events])
                    .WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            return JobLifecycle.OnPickUp(job, "worker-under-test", DateTimeOffset.UtcNow) is PickUp.Send send ? send.Events : [];
        });

        Assert.Equal(2, decidedFrom.Count);
        Assert.Equal([JobState.Queued, JobState.Canceled], decidedFrom);
        var (stored, events) = await StoredAsync(id);
        Assert.Equal(JobState.Canceled, stored.State);
        Assert.Equal(["JobQueued", "JobCancellationRequested", "JobCanceled"], events); // the cancel's own events, and no start
    }

    [Fact]
    public async Task a_cancel_committed_after_the_start_wins_over_the_held_copy()
    {
        var journal = Journal;
        var held = await StartedJobAsync(journal);
        // The core's cancel of a started job, committed while the worker was sending.
        var (current, _) = await StoredAsync(held.Id);
        var cancel = Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(current, "tenant", DateTimeOffset.UtcNow));
        await AppendAsync(held.Id, [.. cancel.Events]);

        // From the held copy (no cancel in it) a transient failure would be a retry; the job as it is says canceled.
        var decidedFrom = new List<Job?>();
        await journal.AppendAsync(held.Id, Outcome(new DeliveryResult.Transient("busy"), decidedFrom), held);

        Assert.Equal(2, decidedFrom.Count);
        Assert.Same(held, decidedFrom[0]);
        Assert.True(decidedFrom[1]!.CancellationRequested);
        var (job, events) = await StoredAsync(held.Id);
        Assert.Equal(JobState.Canceled, job.State);
        Assert.Equal(["JobQueued", "JobStarted", "JobCancellationRequested", "JobCanceled"], events);
    }

    [Fact]
    public async Task an_outcome_appended_while_the_core_holds_the_jobs_lock_waits_for_it_instead_of_deadlocking()
    {
        var journal = Journal;
        var held = await StartedJobAsync(journal);
        // The core's cancel as it runs: lock the stream, decide, append, commit.
        await using var core = Store.LightweightSession();
        var locked = await core.Events.FetchForExclusiveWriting<Job>(held.Id);
        var decidedFrom = new List<Job?>();
        var outcome = journal.AppendAsync(held.Id, Outcome(new DeliveryResult.Transient("busy"), decidedFrom), held);
        await WaitUntilABackendWaitsForALockAsync();

        core.Events.Append(held.Id, [.. Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(locked.Aggregate!, "tenant", DateTimeOffset.UtcNow)).Events]);
        var clock = Stopwatch.StartNew();
        await core.SaveChangesAsync(); // a deadlock fails one of the two after deadlock_timeout (1 s): this one, or the outcome
        await outcome;
        // Without the version check under the row lock the outcome inserted its event first and the cancel's insert waited
        // on it while the outcome waited on the row: a deadlock, found only after a second.
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(800), $"took {clock.Elapsed}");
        Assert.Equal(2, decidedFrom.Count); // the held copy, then the canceled job under the lock
        var (job, events) = await StoredAsync(held.Id);
        Assert.Equal(JobState.Canceled, job.State);
        Assert.Equal(["JobQueued", "JobStarted", "JobCancellationRequested", "JobCanceled"], events);
    }

    /// <summary>Until the journal's append is blocked on the row the test's session locked (or 10 s).</summary>
    private async Task WaitUntilABackendWaitsForALockAsync()
    {
        await using var session = Store.QuerySession();
        for (var i = 0; i < 200; i++)
        {
            var waiting = await session.QueryAsync<int>(
                "select count(*)::int from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'");
            if (waiting[0] > 0) return;
            await Task.Delay(50);
        }
        Assert.Fail("The journal's append never waited for the job's lock.");
    }

    [Fact]
    public async Task an_outcome_for_a_stream_deleted_since_its_start_records_nothing_and_recreates_no_job()
    {
        var journal = Journal;
        var held = await StartedJobAsync(journal);
        // As the retention sweep deletes a job: the stream (events and row) and the document.
        await using (var session = Store.LightweightSession())
        {
            session.Events.TombstoneStream(held.Id);
            session.Delete<Job>(held.Id);
            await session.SaveChangesAsync();
        }

        var decidedFrom = new List<Job?>();
        await journal.AppendAsync(held.Id, Outcome(new DeliveryResult.Delivered(), decidedFrom), held);

        Assert.Equal(2, decidedFrom.Count); // the held copy, then (under the lock) no job at all
        Assert.Null(decidedFrom[1]);
        await using var query = Store.QuerySession();
        Assert.Empty(await query.Events.FetchStreamAsync(held.Id));
        Assert.Null(await query.Events.FetchStreamStateAsync(held.Id));
        Assert.Null(await query.LoadAsync<Job>(held.Id));
    }

    [Fact]
    public async Task a_requeue_committed_after_the_start_leaves_the_outcome_to_the_new_generation()
    {
        var journal = Journal;
        var held = await StartedJobAsync(journal);
        await AppendAsync(held.Id, new JobRequeued(held.Id, 1, "Started with no outcome past its lease.", DateTimeOffset.UtcNow));

        var decidedFrom = new List<Job?>();
        // The outcome of the superseded attempt (generation 0): nothing to record over the re-queue.
        await journal.AppendAsync(held.Id, job =>
        {
            decidedFrom.Add(job);
            return JobLifecycle.OnAttemptEnded(job!, 1, new DeliveryResult.Transient("timeout"), false, new DeliveryPolicy(), DateTimeOffset.UtcNow, 0.5, generation: 0).Events;
        }, held);

        Assert.Equal(2, decidedFrom.Count);
        var (job, events) = await StoredAsync(held.Id);
        Assert.Equal(JobState.Queued, job.State);
        Assert.Equal(1, job.Generation);
        Assert.Equal(["JobQueued", "JobStarted", "JobRequeued"], events);
    }

    [Fact]
    public async Task outcomes_held_by_many_sends_share_a_commit_and_only_a_stale_one_among_them_is_retried_alone()
    {
        var journal = Journal;
        var held = new List<Job>();
        for (var i = 0; i < 12; i++) held.Add(await StartedJobAsync(journal));
        var stale = held[4];
        var (current, _) = await StoredAsync(stale.Id);
        await AppendAsync(stale.Id, [.. Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(current, "tenant", DateTimeOffset.UtcNow)).Events]);

        var commitsBefore = journal.Commits;
        var decidedFrom = held.ToDictionary(h => h.Id, _ => new List<Job?>());
        await Task.WhenAll(held.Select(h => journal.AppendAsync(h.Id, Outcome(new DeliveryResult.Delivered(), decidedFrom[h.Id]), h)));

        // One failed batch; then the stale one alone and the other eleven together: two commits (falling back to one at
        // a time was twelve). A third if the first write happened to commit alone before the others arrived.
        Assert.InRange(journal.Commits - commitsBefore, 2, 3);
        // The stale one decided again from the job as it is (canceled), the others only ever from their held copies.
        Assert.True(decidedFrom[stale.Id][^1]!.CancellationRequested);
        foreach (var h in held.Where(h => h != stale)) Assert.All(decidedFrom[h.Id], job => Assert.Same(h, job));

        foreach (var h in held)
        {
            var (job, events) = await StoredAsync(h.Id);
            // A delivered send is the truth even when a cancel came meanwhile (OnAttemptEnded): the stale one appends
            // after the cancel, at the version it really has, instead of over it.
            Assert.Equal(JobState.Finished, job.State);
            Assert.Equal(h == stale ? ["JobQueued", "JobStarted", "JobCancellationRequested", "JobFinished"] : ["JobQueued", "JobStarted", "JobFinished"], events);
        }
    }
}
