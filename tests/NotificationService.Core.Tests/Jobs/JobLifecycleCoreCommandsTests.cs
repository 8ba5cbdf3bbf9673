using System.Text.Json;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// The core's commands on a job's stream, beyond the table in <see cref="JobLifecycleTests"/>: what the events carry, and
/// the inputs the table holds fixed (the reconciler's view, the adapter, the send time given).
/// </summary>
public sealed class JobLifecycleCoreCommandsTests
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

    private static Job Scheduled(DateTimeOffset sendAt)
    {
        var job = new Job();
        job.Apply(new JobScheduled(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "email", JsonDocument.Parse("{}").RootElement, Now.AddHours(-1), sendAt, Now.AddDays(1)));
        return job;
    }

    [Fact]
    public void at_its_send_time_a_scheduled_job_is_queued_on_its_adapter_with_its_params_and_expiry()
    {
        var job = Scheduled(sendAt: Now);
        var adapter = new Adapter { Id = job.AdapterId, Name = "email-2" };
        var queued = Assert.IsType<JobQueued>(Assert.Single(JobLifecycle.OnSendTime(job, Now, adapter, Now)));
        Assert.Equal((job.Id, job.OfferId, job.ServiceId, adapter.Id, "email-2", Now, job.ExpireAt),
            (queued.JobId, queued.OfferId, queued.ServiceId, queued.AdapterId, queued.AdapterName, queued.QueuedAt, queued.ExpireAt));
    }

    [Fact]
    public void a_send_time_message_for_a_time_the_job_was_moved_from_does_nothing() =>
        Assert.Empty(JobLifecycle.OnSendTime(Scheduled(sendAt: Now.AddHours(1)), Now, new Adapter(), Now));

    [Fact]
    public void a_scheduled_job_whose_adapter_was_deleted_fails_at_its_send_time_as_attempt_zero()
    {
        var failed = Assert.IsType<JobFailed>(Assert.Single(JobLifecycle.OnSendTime(Scheduled(sendAt: Now), Now, adapter: null, Now)));
        Assert.Equal((0, "The adapter was deleted before the send time."), (failed.Attempt, failed.Error));
    }

    [Fact]
    public void a_change_of_a_pending_job_records_expiry_send_time_and_params_in_that_order()
    {
        var job = Scheduled(sendAt: Now.AddHours(1));
        var newParams = JsonDocument.Parse("""{"to":"bob@example.test"}""").RootElement;
        Assert.Collection(JobLifecycle.OnChange(job, Now.AddDays(2), Now.AddHours(2), newParams, Now),
            e => Assert.Equal(Now.AddDays(2), Assert.IsType<JobExpiryChanged>(e).ExpireAt),
            e => Assert.Equal(Now.AddHours(2), Assert.IsType<JobRescheduled>(e).SendAt),
            e => Assert.Equal("bob@example.test", Assert.IsType<JobParamsUpdated>(e).Params.GetProperty("to").GetString()));
        Assert.IsType<JobRescheduled>(Assert.Single(JobLifecycle.OnChange(job, null, Now.AddHours(2), null, Now)));
        Assert.Empty(JobLifecycle.OnChange(job, null, null, null, Now));
    }

    [Fact]
    public void a_retry_is_requested_by_whom_and_when()
    {
        var job = Queued();
        job.Apply(new JobFailed(job.Id, 0, "The adapter was deleted while the job waited.", Now));
        Assert.Equal(new JobRetryRequested(job.Id, "admin", Now, 1), Assert.Single(JobLifecycle.OnRetry(job, "admin", Now)));
    }

    [Fact]
    public void a_redriven_expired_job_loses_its_expiry_so_its_pick_up_sends_it()
    {
        var job = Queued(expireAt: Now.AddMinutes(-1));
        job.Apply(new JobExpired(job.Id, Now.AddMinutes(-1)));
        var events = JobLifecycle.OnRedrive(job, "admin:ab12cd34", Now);
        Assert.Equal([new JobExpiryChanged(job.Id, null, Now), new JobRetryRequested(job.Id, "admin:ab12cd34", Now, 1)], events);
        var redriven = job.After(events.Take(1)); // JobExpiryChanged, as the projection applies it
        redriven.Apply((JobRetryRequested)events[1]);
        Assert.Equal(JobState.Queued, redriven.State);
        Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(redriven, "w1", Now.AddMinutes(1), generation: redriven.Generation));
    }

    // Review 1: an expired job's original DeliverJob (its generation) is still in its queue after the re-drive sent a new one.
    [Fact]
    public void a_redriven_expired_job_is_sent_once_when_its_original_message_is_still_queued()
    {
        var job = Queued(expireAt: Now.AddMinutes(-1));
        job.Apply(new JobExpired(job.Id, Now.AddMinutes(-1)));
        var original = job.Generation;
        Applied(job, JobLifecycle.OnRedrive(job, "admin", Now));
        var first = Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "w1", Now, generation: job.Generation));
        Applied(job, first.Events);
        Assert.IsType<PickUp.Skip>(JobLifecycle.OnPickUp(job, "w2", Now, generation: original));
    }

    [Fact]
    public void a_retried_failed_job_skips_a_message_of_its_earlier_generation()
    {
        var job = Queued();
        job.Apply(new JobFailed(job.Id, 1, "Poison message, dead-lettered: boom", Now));
        var original = job.Generation;
        Applied(job, JobLifecycle.OnRetry(job, "admin", Now));
        Assert.Equal(original + 1, job.Generation);
        Assert.IsType<PickUp.Skip>(JobLifecycle.OnPickUp(job, "w1", Now, generation: original));
    }

    private static void Applied(Job job, IEnumerable<object> events)
    {
        foreach (var e in events) ((dynamic)job).Apply((dynamic)e);
    }

    [Fact]
    public void an_erasure_records_its_reason_and_who_asked() =>
        Assert.Equal(new JobParamsErased(Guid.Empty, "recipient", "admin", Now), Assert.Single(JobLifecycle.OnParamsErased(new Job(), "recipient", "admin", Now)));

    [Fact]
    public void a_poison_message_fails_the_job_at_its_current_attempt_with_the_reason()
    {
        var job = Queued();
        job.Apply(new JobStarted(job.Id, 2, "w1", Now));
        var failed = Assert.IsType<JobFailed>(Assert.Single(JobLifecycle.OnPoisonMessage(job, "JsonException: bad params", Now)));
        Assert.Equal((2, "Poison message, dead-lettered: JsonException: bad params"), (failed.Attempt, failed.Error));
    }
}
