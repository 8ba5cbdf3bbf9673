using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Jobs;

public sealed class when_a_job_is_canceled(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_queued_job_ends_canceled_at_once_and_is_never_sent_when_a_worker_arrives()
    {
        var idle = await System.CreateEmailAdapterAsync($"idle-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(idle.Name, "never@example.test") } });
        var jobId = offer.Jobs[0].Id;

        var (status, body) = await System.CancelJobAsync(System.Tenant, jobId);
        Assert.Equal(202, status);
        Assert.Equal("Canceled", body.GetProperty("state").GetString());

        // The job's message waits in the queue (sent after the offer's response); a worker that takes it must see the
        // cancel and not send.
        await Eventually.Until(() => Broker.QueueDepthAsync(idle.Queue, missingIsEmpty: true), depth => depth == 1, what: "the job's message to reach the queue");
        var worker = await System.StartEmailWorkerAsync(idle.ApiKey);
        await Eventually.Until(() => Broker.QueueDepthAsync(idle.Queue), depth => depth == 0, what: "the worker to take the job");
        await System.StopWorkerAsync(worker); // stopping drains what it holds, so its decision is committed
        Assert.Empty(System.Smtp.To("never@example.test"));
        Assert.Equal(["JobQueued", "JobCancellationRequested", "JobCanceled"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_send_in_flight_is_aborted_on_whichever_of_two_worker_hosts_holds_it()
    {
        var adapter = await System.CreateEmailAdapterAsync($"gated-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        GatedChannel first = new(), second = new();
        await System.StartEmailWorkerAsync(adapter.ApiKey, first);
        await System.StartEmailWorkerAsync(adapter.ApiKey, second);

        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(adapter.Name, "inflight@example.test") } });
        var jobId = offer.Jobs[0].Id;
        await System.WaitForStateAsync(System.Tenant, jobId, JobState.Started);
        await Eventually.Until(() => first.Started.Contains(jobId) || second.Started.Contains(jobId), what: "the send to begin");

        var (status, body) = await System.CancelJobAsync(System.Tenant, jobId);
        Assert.Equal(202, status);
        Assert.Equal("Started", body.GetProperty("state").GetString());

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Canceled, job.State);
        var holder = first.Started.Contains(jobId) ? first : second;
        Assert.Contains(jobId, holder.Aborted);
        Assert.Empty(first.Delivered.Concat(second.Delivered));
        Assert.Equal(["JobQueued", "JobStarted", "JobCancellationRequested", "JobCanceled"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_send_that_completes_first_wins_and_the_job_is_reported_finished()
    {
        var adapter = await System.CreateEmailAdapterAsync($"late-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var unstoppable = new GatedChannel { HonourCancellation = false };
        await System.StartEmailWorkerAsync(adapter.ApiKey, unstoppable);

        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(adapter.Name, "race@example.test") } });
        var jobId = offer.Jobs[0].Id;
        await Eventually.Until(() => unstoppable.Started.Contains(jobId), what: "the send to begin");

        Assert.Equal(202, (await System.CancelJobAsync(System.Tenant, jobId)).Status);
        unstoppable.Release();

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.True(job.CancellationRequested);
        Assert.Equal(["JobQueued", "JobStarted", "JobCancellationRequested", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task canceling_a_finished_job_is_a_conflict()
    {
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "done@example.test") } });
        await System.WaitForStateAsync(System.Tenant, offer.Jobs[0].Id, JobState.Finished);

        var (status, problem) = await System.CancelJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(409, status);
        Assert.Contains("Finished", problem.GetProperty("detail").GetString());
    }
}
