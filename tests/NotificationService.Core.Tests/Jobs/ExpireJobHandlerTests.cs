using System.Text.Json;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary><see cref="ExpireJobHandler.Handle"/> called directly: what an <see cref="ExpireJob"/> does to a job in each state.</summary>
public sealed class ExpireJobHandlerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static Job QueuedJob(DateTimeOffset? expireAt)
    {
        var job = new Job();
        job.Apply(new JobQueued(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "email", JsonDocument.Parse("{}").RootElement, Now.AddHours(-1), expireAt));
        return job;
    }

    [Fact]
    public void a_job_still_waiting_past_its_expiry_ends_expired()
    {
        var job = QueuedJob(Now.AddSeconds(-1));
        var (checkedJob, events) = ExpireJobHandler.Handle(new ExpireJob(job.Id), job, new FixedClock(Now));

        Assert.True(checkedJob.Expired);
        Assert.Equal([new JobExpired(job.Id, Now)], events);
    }

    [Fact]
    public void a_job_whose_expiry_moved_later_meanwhile_is_left_alone()
    {
        var job = QueuedJob(Now.AddHours(1));
        var (checkedJob, events) = ExpireJobHandler.Handle(new ExpireJob(job.Id), job, new FixedClock(Now));

        Assert.False(checkedJob.Expired);
        Assert.Empty(events);
    }

    [Fact]
    public void a_job_that_already_ended_is_left_alone_so_a_repeated_message_is_harmless()
    {
        var job = QueuedJob(Now.AddSeconds(-1));
        job.Apply(new JobExpired(job.Id, Now.AddSeconds(-1)));
        var (checkedJob, events) = ExpireJobHandler.Handle(new ExpireJob(job.Id), job, new FixedClock(Now));

        Assert.False(checkedJob.Expired);
        Assert.Empty(events);
    }
}
