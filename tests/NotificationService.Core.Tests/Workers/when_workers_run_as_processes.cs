using System.Text.Json;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

/// <summary>Worker processes started from their built assemblies, as operations run them, against the real core and broker.</summary>
public sealed class when_workers_run_as_processes(SystemFixture system) : IntegrationContext(system)
{
    private const string Webhook = "NotificationService.Adapters.Webhook";

    private async Task<RegisteredAdapter> WebhookAdapterAsync(HttpPeer receiver) =>
        await System.CreateAdapterAsync($"proc-{Guid.NewGuid():N}"[..20], "webhook", new { url = receiver.BaseUrl, secret = "process-test-secret-123", allowPrivateNetwork = true });

    /// <summary>The process id of the worker that recorded each JobStarted (its node name is host-pid-suffix).</summary>
    private async Task<List<int>> StartedByAsync(Guid jobId) =>
        (await System.GetJobEventsAsync(System.Tenant, jobId)).Where(e => e.Type == "JobStarted")
        .Select(e => int.Parse(((JsonElement)e.Data).GetProperty("worker").GetString()!.Split('-')[^2])).ToList();

    [Fact]
    public async Task two_worker_processes_on_one_queue_share_the_work_and_send_each_job_once()
    {
        await using var receiver = await HttpPeer.StartAsync();
        receiver.BeforeReply = (_, ct) => Task.Delay(50, ct); // a provider that takes a moment, so both workers get a share
        var adapter = await WebhookAdapterAsync(receiver);
        await using var first = await WorkerProcess.StartAsync(Webhook, adapter.ApiKey);
        await using var second = await WorkerProcess.StartAsync(Webhook, adapter.ApiKey);

        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = Enumerable.Range(0, 30).Select(i => new { adapter = adapter.Name, @params = new { payload = new { i } } }).ToArray(),
        });

        var workers = new List<int>();
        foreach (var job in offer.Jobs)
        {
            Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, job.Id, TimeSpan.FromSeconds(60))).State);
            workers.Add(Assert.Single(await StartedByAsync(job.Id)));
        }
        Assert.Equal(new[] { first.Pid, second.Pid }.Order(), workers.Distinct().Order());
        Assert.Equal(30, receiver.Requests.Count);
    }

    [Fact]
    public async Task a_worker_killed_mid_send_loses_nothing_and_the_possible_duplicate_is_recorded()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var firstSendHeld = new TaskCompletionSource();
        var requests = 0;
        // The first send hangs in the provider, so its worker is certainly mid-send when it is killed.
        receiver.BeforeReply = (_, ct) => Interlocked.Increment(ref requests) == 1 ? firstSendHeld.Task.WaitAsync(ct) : Task.CompletedTask;
        var adapter = await WebhookAdapterAsync(receiver);
        await using var a = await WorkerProcess.StartAsync(Webhook, adapter.ApiKey, parallelism: 1);
        await using var b = await WorkerProcess.StartAsync(Webhook, adapter.ApiKey, parallelism: 1);

        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { order = 1 } } } } });
        var jobId = offer.Jobs[0].Id;
        await Eventually.Until(() => receiver.Requests.Count == 1, what: "the first send to reach the provider");
        var holder = Assert.Single(await StartedByAsync(jobId));
        var (victim, survivor) = holder == a.Pid ? (a, b) : (b, a);

        await victim.KillAsync();

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(60));
        firstSendHeld.TrySetResult();
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(1, job.PossibleDuplicates);
        Assert.Equal(["JobQueued", "JobStarted", "JobPossibleDuplicate", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
        Assert.Equal([victim.Pid, survivor.Pid], await StartedByAsync(jobId));
        // The provider saw the job twice: the duplicate is counted in the job's history, not hidden.
        Assert.Equal(2, receiver.Requests.Count(r => r.Headers["X-NS-Job"] == jobId.ToString()));
    }

    [Fact]
    public async Task a_worker_with_an_unknown_or_deleted_adapters_key_exits_non_zero_with_a_one_line_reason()
    {
        var (unknown, output) = await WorkerProcess.RunToExitAsync(Webhook, "nsa_not-a-registered-key", TimeSpan.FromSeconds(60));
        Assert.Equal(2, unknown);
        Assert.Contains("adapter worker (webhook): No adapter is registered for this Adapter:Key", output);

        await using var receiver = await HttpPeer.StartAsync();
        var adapter = await WebhookAdapterAsync(receiver);
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey)).Status);
        var (deleted, _) = await WorkerProcess.RunToExitAsync(Webhook, adapter.ApiKey, TimeSpan.FromSeconds(60));
        Assert.Equal(2, deleted);

        var email = System.Email; // a key of another type
        var (wrongType, reason) = await WorkerProcess.RunToExitAsync(Webhook, email.ApiKey, TimeSpan.FromSeconds(60));
        Assert.Equal(2, wrongType);
        Assert.Contains("is of type 'email', but this worker delivers 'webhook'", reason);
    }

    [Fact]
    public async Task a_worker_stopped_with_sigterm_finishes_the_send_in_hand_before_it_exits()
    {
        await using var receiver = await HttpPeer.StartAsync();
        receiver.BeforeReply = (_, ct) => Task.Delay(TimeSpan.FromSeconds(2), ct);
        var adapter = await WebhookAdapterAsync(receiver);
        await using var worker = await WorkerProcess.StartAsync(Webhook, adapter.ApiKey, parallelism: 1);

        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { } } } } });
        await Eventually.Until(() => receiver.Requests.Count == 1, what: "the send to begin");

        var exitCode = await worker.TerminateAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, exitCode);
        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.True(job.State == JobState.Finished, $"{job.State}\n{worker.Output}");
        Assert.Equal(0, job.PossibleDuplicates);
    }
}
