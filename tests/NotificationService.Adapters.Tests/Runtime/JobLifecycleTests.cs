using System.Text.Json;
using NotificationService.Storage.Jobs;

namespace NotificationService.Adapters.Tests.Runtime;

/// <summary>The core's decisions on a job's stream: cancel and expiry sweep.</summary>
public sealed class JobLifecycleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private static Job Queued(DateTimeOffset? expireAt = null)
    {
        var job = new Job();
        job.Apply(new JobQueued(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "email", JsonDocument.Parse("{}").RootElement, Now, expireAt));
        return job;
    }

    [Fact]
    public void canceling_a_job_that_has_not_started_cancels_it_at_once_without_a_broadcast()
    {
        var cancel = Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(Queued(), "svc", Now));
        Assert.False(cancel.Broadcast);
        Assert.Collection(cancel.Events, e => Assert.IsType<JobCancellationRequested>(e), e => Assert.IsType<JobCanceled>(e));
    }

    [Fact]
    public void canceling_a_started_job_requests_it_and_broadcasts_to_the_workers()
    {
        var job = Queued();
        job.Apply(new JobStarted(job.Id, 1, "w1", Now));
        var cancel = Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(job, "svc", Now));
        Assert.True(cancel.Broadcast);
        Assert.IsType<JobCancellationRequested>(Assert.Single(cancel.Events));
    }

    [Fact]
    public void canceling_an_ended_job_changes_nothing()
    {
        var job = Queued();
        job.Apply(new JobExpired(job.Id, Now));
        Assert.Equal(JobState.Expired, Assert.IsType<CancelDecision.AlreadyEnded>(JobLifecycle.OnCancel(job, "svc", Now)).State);
    }

    [Fact]
    public void the_sweeper_expires_only_waiting_jobs_past_their_expiry()
    {
        Assert.IsType<JobExpired>(Assert.Single(JobLifecycle.OnExpiryDue(Queued(expireAt: Now.AddSeconds(-1)), Now)));
        Assert.Empty(JobLifecycle.OnExpiryDue(Queued(expireAt: Now.AddSeconds(1)), Now));
        Assert.Empty(JobLifecycle.OnExpiryDue(Queued(), Now));
        var started = Queued(expireAt: Now.AddSeconds(-1));
        started.Apply(new JobStarted(started.Id, 1, "w1", Now));
        Assert.Empty(JobLifecycle.OnExpiryDue(started, Now));
    }

    private static readonly StuckJobBounds Bounds = new(StartedLease: TimeSpan.FromMinutes(5), QueuedBound: TimeSpan.FromMinutes(10));

    private static Job Started()
    {
        var job = Queued();
        job.Apply(new JobStarted(job.Id, 1, "w1", Now));
        job.Version = 2;
        return job;
    }

    [Fact]
    public void a_started_job_past_its_lease_is_requeued_as_a_new_generation_and_counted_as_a_possible_duplicate()
    {
        var events = JobLifecycle.OnStuck(Started(), 2, Now, Bounds, adapterExists: true, Now.AddMinutes(5));
        Assert.Collection(events,
            e => Assert.Equal(1, Assert.IsType<JobPossibleDuplicate>(e).Attempt),
            e => Assert.Equal(1, Assert.IsType<JobRequeued>(e).Generation));
    }

    [Fact]
    public void a_started_job_within_its_lease_is_left_to_its_worker() =>
        Assert.Empty(JobLifecycle.OnStuck(Started(), 2, Now, Bounds, adapterExists: true, Now.AddMinutes(4)));

    [Fact]
    public void a_job_that_changed_since_the_reconciler_read_it_is_left_alone()
    {
        // Another core's reconciler, or the worker's late outcome, got there first.
        Assert.Empty(JobLifecycle.OnStuck(Started(), 1, Now, Bounds, adapterExists: true, Now.AddHours(1)));
    }

    [Fact]
    public void a_lost_attempt_of_a_job_being_canceled_ends_canceled_as_possibly_delivered()
    {
        var job = Started();
        job.Apply(new JobCancellationRequested(job.Id, "svc", Now));
        var canceled = Assert.IsType<JobCanceled>(Assert.Single(JobLifecycle.OnStuck(job, job.Version, Now, Bounds, true, Now.AddHours(1))));
        Assert.True(canceled.PossiblyDelivered);
    }

    [Fact]
    public void a_queued_job_past_its_bound_is_requeued_and_one_within_it_is_not()
    {
        var job = Queued();
        Assert.Empty(JobLifecycle.OnStuck(job, job.Version, Now, Bounds, true, Now.AddMinutes(9)));
        var requeued = Assert.IsType<JobRequeued>(Assert.Single(JobLifecycle.OnStuck(job, job.Version, Now, Bounds, true, Now.AddMinutes(10))));
        Assert.Equal(1, requeued.Generation);
    }

    [Fact]
    public void a_stuck_job_whose_adapter_was_deleted_fails_with_the_reason()
    {
        var failed = Assert.IsType<JobFailed>(Assert.Single(JobLifecycle.OnStuck(Queued(), 0, Now, Bounds, adapterExists: false, Now.AddHours(1))));
        Assert.Contains("adapter was deleted", failed.Error);
    }
}
