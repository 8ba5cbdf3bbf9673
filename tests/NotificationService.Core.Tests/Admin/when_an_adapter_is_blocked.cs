using Microsoft.Extensions.DependencyInjection;
using NotificationService.Contracts;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Wolverine.Runtime;
using Wolverine.Transports;

namespace NotificationService.Core.Tests.Admin;

public sealed class when_an_adapter_is_blocked(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task new_offers_are_refused_its_worker_pauses_and_resumes_and_the_waiting_job_is_not_lost()
    {
        var adapter = await System.CreateEmailAdapterAsync($"blockable-{Guid.NewGuid():N}"[..22], System.Smtp.Port);
        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey);
        // Scheduled before the block, queued during it: it must wait in the queue, not be taken or lost.
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(adapter.Name, "waiting@example.test") }, sendAt = DateTimeOffset.UtcNow.AddSeconds(3),
        });
        var jobId = offer.Jobs[0].Id;

        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/block", SystemFixture.AdminKey)).Status);
        var (refused, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { ClientApi.EmailTarget(adapter.Name, "new@example.test") } });
        Assert.Equal(422, refused);
        Assert.Contains("blocked", problem.GetProperty("errors").GetProperty("targets[0].adapter")[0].GetString());
        var visible = await System.SendAsync<List<NotificationService.Core.Adapters.ClientAdapterView>>(HttpMethod.Get, "/v1/adapters", System.Tenant.ApiKey, expect: 200);
        Assert.DoesNotContain(visible, a => a.Name == adapter.Name);

        // The worker's status poll (no message marks it) stops its listener: seen on the worker itself, not guessed by a sleep.
        var listener = worker.Services.GetRequiredService<IWolverineRuntime>().Endpoints.FindListeningAgent(Topology.QueueUri(adapter.Queue))!;
        await Eventually.Until(() => listener.Status != ListeningStatus.Accepting, what: "the worker to stop taking jobs");
        await System.WaitForStateAsync(System.Tenant, jobId, JobState.Queued, TimeSpan.FromSeconds(20));
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue), depth => depth == 1, what: "the job to wait in the queue");
        // Two more status polls (0.5 s apart in tests): the paused worker must leave it there and stay paused.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(1u, await Broker.QueueDepthAsync(adapter.Queue));
        Assert.NotEqual(ListeningStatus.Accepting, listener.Status);
        Assert.Equal(JobState.Queued, (await System.GetJobAsync(System.Tenant, jobId)).State);

        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/unblock", SystemFixture.AdminKey)).Status);
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId)).State);
        Assert.Single(System.Smtp.To("waiting@example.test"));
    }
}
