using System.Text.Json;
using NotificationService.Contracts;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>The worker's lifecycle decisions, called directly: no host, no database.</summary>
public sealed class JobLifecycleWorkerCommandsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly DeliveryPolicy Policy = new() { MaxAttempts = 3, InitialBackoffSeconds = 2, MaxBackoffSeconds = 60 };

    private static Job Queued(DateTimeOffset? expireAt = null)
    {
        var job = new Job();
        job.Apply(new JobQueued(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "email", JsonDocument.Parse("{}").RootElement, Now.AddMinutes(-1), expireAt));
        return job;
    }

    [Fact]
    public void a_queued_job_starts_as_attempt_one()
    {
        var send = Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(Queued(), "w1", Now));
        Assert.Equal(1, send.Attempt);
        Assert.IsType<JobStarted>(Assert.Single(send.Events));
    }

    [Fact]
    public void a_finished_job_redelivered_is_never_sent_again()
    {
        var job = Queued();
        job.Apply(new JobStarted(job.Id, 1, "w1", Now));
        job.Apply(new JobFinished(job.Id, 1, Now, null));
        Assert.IsType<PickUp.Skip>(JobLifecycle.OnPickUp(job, "w2", Now));
    }

    [Fact]
    public void a_job_redelivered_after_its_worker_died_mid_send_is_sent_again_and_marked_a_possible_duplicate()
    {
        var job = Queued();
        job.Apply(new JobStarted(job.Id, 1, "w1", Now));
        var send = Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "w2", Now));
        Assert.Equal(2, send.Attempt);
        Assert.IsType<JobPossibleDuplicate>(send.Events[0]);
        Assert.IsType<JobStarted>(send.Events[1]);
    }

    [Fact]
    public void a_job_of_another_adapter_is_never_sent_through_this_one()
    {
        var job = Queued();
        Assert.IsType<PickUp.Skip>(JobLifecycle.OnPickUp(job, "w1", Now, adapterId: Guid.NewGuid()));
        Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "w1", Now, adapterId: job.AdapterId));
    }

    [Fact]
    public void an_expired_job_is_expired_not_sent()
    {
        var end = Assert.IsType<PickUp.End>(JobLifecycle.OnPickUp(Queued(expireAt: Now.AddSeconds(-1)), "w1", Now));
        Assert.IsType<JobExpired>(end.Event);
    }

    [Fact]
    public void a_job_whose_cancellation_was_requested_is_canceled_not_sent()
    {
        var job = Queued();
        job.Apply(new JobCancellationRequested(job.Id, "svc", Now));
        Assert.IsType<JobCanceled>(Assert.IsType<PickUp.End>(JobLifecycle.OnPickUp(job, "w1", Now)).Event);
    }

    [Fact]
    public void a_transient_failure_is_retried_after_an_exponential_backoff_and_gives_up_after_max_attempts()
    {
        var job = Queued();
        var first = JobLifecycle.OnAttemptEnded(job, 1, new DeliveryResult.Transient("timeout"), false, Policy, Now, jitter01: 0.5);
        Assert.IsType<JobAttemptFailed>(Assert.Single(first.Events));
        Assert.Equal(Now.AddSeconds(2), first.RetryAt);

        var second = JobLifecycle.OnAttemptEnded(job, 2, new DeliveryResult.Transient("timeout"), false, Policy, Now, jitter01: 0.5);
        Assert.Equal(Now.AddSeconds(4), second.RetryAt);

        var last = JobLifecycle.OnAttemptEnded(job, 3, new DeliveryResult.Transient("timeout"), false, Policy, Now, jitter01: 0.5);
        Assert.Null(last.RetryAt);
        Assert.Contains("gave up after 3 attempts", Assert.IsType<JobFailed>(Assert.Single(last.Events)).Error);
    }

    [Fact]
    public void a_provider_retry_after_wins_over_the_backoff()
    {
        var outcome = JobLifecycle.OnAttemptEnded(Queued(), 1, new DeliveryResult.Transient("429", TimeSpan.FromSeconds(30)), false, Policy, Now, 0.5);
        Assert.Equal(Now.AddSeconds(30), outcome.RetryAt);
    }

    [Fact]
    public void a_permanent_failure_fails_at_once()
    {
        var outcome = JobLifecycle.OnAttemptEnded(Queued(), 1, new DeliveryResult.Permanent("550"), false, Policy, Now, 0.5);
        Assert.Null(outcome.RetryAt);
        Assert.Equal("550", Assert.IsType<JobFailed>(Assert.Single(outcome.Events)).Error);
    }

    [Fact]
    public void a_delivered_send_is_reported_finished_even_when_a_cancel_arrived_meanwhile()
    {
        var job = Queued();
        job.Apply(new JobCancellationRequested(job.Id, "svc", Now));
        var outcome = JobLifecycle.OnAttemptEnded(job, 1, new DeliveryResult.Delivered("id-1"), canceled: true, Policy, Now, 0.5);
        Assert.IsType<JobFinished>(Assert.Single(outcome.Events));
    }

    [Fact]
    public void an_aborted_send_ends_canceled_without_retry()
    {
        var outcome = JobLifecycle.OnAttemptEnded(Queued(), 1, new DeliveryResult.Transient("aborted"), canceled: true, Policy, Now, 0.5);
        Assert.IsType<JobCanceled>(Assert.Single(outcome.Events));
        Assert.Null(outcome.RetryAt);
    }

    [Fact]
    public void a_send_aborted_before_its_request_was_complete_is_truly_canceled()
    {
        var outcome = JobLifecycle.OnAttemptEnded(Queued(), 1, new DeliveryResult.Transient("aborted"), canceled: true, Policy, Now, 0.5,
            possiblyDelivered: false);
        Assert.False(Assert.IsType<JobCanceled>(Assert.Single(outcome.Events)).PossiblyDelivered);
    }

    [Fact]
    public void a_send_aborted_after_its_request_was_complete_is_canceled_as_possibly_delivered()
    {
        var outcome = JobLifecycle.OnAttemptEnded(Queued(), 1, new DeliveryResult.Transient("aborted"), canceled: true, Policy, Now, 0.5,
            possiblyDelivered: true);
        Assert.True(Assert.IsType<JobCanceled>(Assert.Single(outcome.Events)).PossiblyDelivered);
        var job = Queued();
        job.Apply(outcome.Events[0] as JobCanceled ?? throw new InvalidOperationException());
        Assert.True(job.PossiblyDelivered);
    }

    [Fact]
    public void a_message_of_a_generation_the_reconciler_superseded_is_skipped()
    {
        var job = Queued();
        job.Apply(new JobRequeued(job.Id, 1, "stuck", Now));
        Assert.IsType<PickUp.Skip>(JobLifecycle.OnPickUp(job, "w1", Now, generation: 0));
        Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "w1", Now, generation: 1));
    }

    [Fact]
    public void a_late_failure_of_an_attempt_the_reconciler_requeued_changes_nothing_but_a_late_delivery_is_recorded()
    {
        var job = Queued();
        job.Apply(new JobStarted(job.Id, 1, "w1", Now));
        job.Apply(new JobRequeued(job.Id, 1, "stuck", Now));
        Assert.Empty(JobLifecycle.OnAttemptEnded(job, 1, new DeliveryResult.Transient("timeout"), false, Policy, Now, 0.5, generation: 0).Events);
        Assert.IsType<JobFinished>(Assert.Single(JobLifecycle.OnAttemptEnded(job, 1, new DeliveryResult.Delivered(), false, Policy, Now, 0.5, generation: 0).Events));
    }

    [Theory]
    [InlineData(0.0, 1.6)]
    [InlineData(0.999, 2.4)]
    public void backoff_jitter_stays_within_twenty_percent(double jitter, double expectedSeconds) =>
        Assert.Equal(expectedSeconds, Policy.BackoffAfter(1, jitter).TotalSeconds, precision: 2);

    [Fact]
    public void backoff_is_capped() => Assert.Equal(60, Policy.BackoffAfter(20, 0.5).TotalSeconds, precision: 3);

    [Theory]
    [InlineData(1e300, "2030-01-01T00:00:00Z")]
    [InlineData(60, "9999-12-31T23:59:30Z")]
    public void a_default_expiry_past_the_calendar_is_its_end_not_an_exception(double ttl, string from) =>
        Assert.Equal(DateTimeOffset.MaxValue, new DeliveryPolicy { DefaultTtlSeconds = ttl }.DefaultExpiry(DateTimeOffset.Parse(from)));

    [Fact]
    public void a_default_expiry_within_the_calendar_is_exact() =>
        Assert.Equal(DateTimeOffset.Parse("2030-01-01T00:01:00Z"), new DeliveryPolicy { DefaultTtlSeconds = 60 }.DefaultExpiry(DateTimeOffset.Parse("2030-01-01T00:00:00Z")));

    // What a job says about its failed attempts, from the decisions and the projection alone.

    private static Job Started(int attempt)
    {
        var job = new Job();
        job.Apply(new JobQueued(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "webhook", JsonDocument.Parse("{}").RootElement, Now, null));
        job.Apply(new JobStarted(job.Id, attempt, "w1", Now));
        return job;
    }

    private static void Apply(Job job, IEnumerable<object> events)
    {
        foreach (var e in events)
        {
            switch (e)
            {
                case JobAttemptFailed failed: job.Apply(failed); break;
                case JobFinished finished: job.Apply(finished); break;
                case JobFailed failed: job.Apply(failed); break;
                default: throw new InvalidOperationException($"Unexpected {e}");
            }
        }
    }

    [Fact]
    public void a_job_delivered_on_attempt_2_keeps_attempt_1s_error_labelled_with_its_attempt()
    {
        var job = Started(1);
        Apply(job, JobLifecycle.OnAttemptEnded(job, 1, new DeliveryResult.Transient("The provider answered HTTP 503 Service Unavailable.", Detail: "maintenance"),
            false, Policy, Now, 0.5).Events);
        job.Apply(new JobStarted(job.Id, 2, "w1", Now));
        Apply(job, JobLifecycle.OnAttemptEnded(job, 2, new DeliveryResult.Delivered("id-2"), false, Policy, Now, 0.5).Events);

        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal("The provider answered HTTP 503 Service Unavailable.", job.LastError);
        Assert.Equal(1, job.LastErrorAttempt);
        Assert.Equal("maintenance", job.LastErrorDetail);
    }

    [Fact]
    public void a_permanent_failure_records_its_attempt_and_the_providers_detail_apart_from_the_error()
    {
        var job = Started(2);
        var failed = Assert.IsType<JobFailed>(Assert.Single(JobLifecycle.OnAttemptEnded(job, 2,
            new DeliveryResult.Permanent("The provider answered HTTP 404 Not Found.", "no route /in"), false, Policy, Now, 0.5).Events));
        job.Apply(failed);

        Assert.Equal(("The provider answered HTTP 404 Not Found.", 2, "no route /in"), (job.LastError, job.LastErrorAttempt, job.LastErrorDetail));
    }
}
