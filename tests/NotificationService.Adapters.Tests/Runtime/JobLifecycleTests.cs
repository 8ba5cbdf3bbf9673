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
        Assert.NotNull(JobLifecycle.OnSweep(Queued(expireAt: Now.AddSeconds(-1)), Now));
        Assert.Null(JobLifecycle.OnSweep(Queued(expireAt: Now.AddSeconds(1)), Now));
        Assert.Null(JobLifecycle.OnSweep(Queued(), Now));
        var started = Queued(expireAt: Now.AddSeconds(-1));
        started.Apply(new JobStarted(started.Id, 1, "w1", Now));
        Assert.Null(JobLifecycle.OnSweep(started, Now));
    }
}
