using NotificationService.Adapters.Webhook;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// Cancels that reach a real webhook send (a real HTTP receiver, the real sender and worker host) at each point of the
/// request: the job's outcome says what the receiver really got.
/// </summary>
public sealed class when_a_cancel_races_a_webhook_send(SystemFixture system) : IntegrationContext(system)
{
    private const string Secret = "webhook-secret-0123456789";

    [Fact]
    public async Task a_receiver_that_got_the_request_and_answers_200_after_the_cancel_gets_the_job_finished()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var received = new TaskCompletionSource();
        var aborted = new TaskCompletionSource();
        receiver.BeforeReply = async (_, requestAborted) =>
        {
            received.TrySetResult();
            // Hold the answer until the cancel's broadcast has had its chance to abort the request.
            await using (requestAborted.Register(() => aborted.TrySetResult()))
                await Task.WhenAny(aborted.Task, Task.Delay(TimeSpan.FromSeconds(3)));
        };
        var jobId = await StartWebhookJobAsync(receiver, timeoutSeconds: 30);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(202, (await System.CancelJobAsync(System.Tenant, jobId)).Status);

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.False(aborted.Task.IsCompleted, "the request the receiver had in full was aborted");
        Assert.Equal(JobState.Finished, job.State);
        Assert.True(job.CancellationRequested);
        Assert.Single(receiver.Requests);
        Assert.Equal(["JobQueued", "JobStarted", "JobCancellationRequested", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_cancel_whose_request_was_sent_but_never_answered_ends_canceled_as_possibly_delivered()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var received = new TaskCompletionSource();
        receiver.BeforeReply = async (_, requestAborted) =>
        {
            received.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(30), requestAborted); // never answers in time
        };
        var jobId = await StartWebhookJobAsync(receiver, timeoutSeconds: 2);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(202, (await System.CancelJobAsync(System.Tenant, jobId)).Status);

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Canceled, job.State);
        Assert.True(job.PossiblyDelivered);
        Assert.Single(receiver.Requests);
    }

    // A cancel that aborts an upload part way (the receiver gets nothing, the job is truly Canceled) is tested on the
    // sender itself (WebhookSenderTests): on loopback a stalled upload needs a body far over the API's 1 MiB limit.
    private async Task<Guid> StartWebhookJobAsync(HttpPeer receiver, double timeoutSeconds)
    {
        var adapter = await System.CreateAdapterAsync($"race-{Guid.NewGuid():N}"[..20], "webhook",
            new { url = receiver.BaseUrl + "/in", secret = Secret, timeoutSeconds, allowPrivateNetwork = true });
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);
        var payload = new { @event = "order.paid" };
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload } } } });
        return offer.Jobs[0].Id;
    }
}
