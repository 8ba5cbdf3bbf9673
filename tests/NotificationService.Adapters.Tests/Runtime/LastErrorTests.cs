using System.Text.Json;
using NotificationService.Adapters.Runtime;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Adapters.Tests.Runtime;

/// <summary>What a job says about its failed attempts, from the decisions and the projection alone.</summary>
public sealed class LastErrorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly DeliveryPolicy Policy = new() { MaxAttempts = 3, InitialBackoffSeconds = 2, MaxBackoffSeconds = 60 };

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
