using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Contracts;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Wolverine;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// A committed outbox row is sent from the memory of the node that wrote it, and a node can lose that memory and live on:
/// PostgreSQL killed after a commit but before its answer (`./ns chaos` once left a job Queued so, its row owned by a live
/// core). Wolverine's recovery takes only dead nodes' rows; <see cref="CritterStack.OutboxStaleTime"/> releases the rest.
/// </summary>
public sealed class when_a_node_forgets_a_committed_send(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task its_row_is_released_once_stale_and_the_job_is_delivered()
    {
        var adapter = await System.CreateEmailAdapterAsync($"forgot-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(adapter.Name, "forgotten@example.test") } });
        var jobId = Assert.Single(offer.Jobs).Id;
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue, missingIsEmpty: true), depth => depth == 1, what: "the job's message to reach the queue");
        await Broker.PurgeAsync(adapter.Queue); // its only message is now the one below

        var runtime = System.Core.Services.GetRequiredService<IWolverineRuntime>();
        var envelopeId = await CommitWithoutSendingAsync(runtime, new DeliverJob(jobId, adapter.Id).ToDestination(Topology.QueueUri(adapter.Queue)));
        Assert.Equal(runtime.DurabilitySettings.AssignedNodeNumber, await OwnerAsync(envelopeId));
        Assert.NotEqual(0, runtime.DurabilitySettings.AssignedNodeNumber); // a live node's, which recovery alone never takes

        // A fixed wait, as what it shows is something NOT happening: nothing sends the row while it is young.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(0u, await Broker.QueueDepthAsync(adapter.Queue));
        Assert.Equal(runtime.DurabilitySettings.AssignedNodeNumber, await OwnerAsync(envelopeId));

        // Aged past the stale time rather than waited for: the release then comes with the durability agent's next poll.
        await Sql.ExecuteAsync($"UPDATE wolverine.wolverine_outgoing_envelopes SET timestamp = now() - interval '1 hour' WHERE id = '{envelopeId}'");
        await Eventually.Until(() => Broker.QueueDepthAsync(adapter.Queue), depth => depth == 1, TimeSpan.FromSeconds(15), "the released row to be sent");
        await System.StartEmailWorkerAsync(adapter.ApiKey);

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(30));
        Assert.Equal(JobState.Finished, job.State);
        await Eventually.Until(() => OwnerAsync(envelopeId), owner => owner is null, TimeSpan.FromSeconds(10), "the sent row to be deleted");
        Assert.Single(System.Smtp.To("forgotten@example.test"));
    }

    /// <summary>The message's outbox row is committed, and the flush that follows a commit is left out, as if it had failed.</summary>
    private async Task<Guid> CommitWithoutSendingAsync(IWolverineRuntime runtime, object message)
    {
        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        var listeners = session.Listeners.Count;
        var outbox = new MartenOutbox(runtime, session);
        while (session.Listeners.Count > listeners) session.Listeners.RemoveAt(listeners); // Wolverine's flush after the commit
        await outbox.EnqueueCascadingAsync(new OutgoingMessages { message });
        var envelope = Assert.Single(outbox.Outstanding);
        await session.SaveChangesAsync();
        return envelope.Id;
    }

    private static async Task<int?> OwnerAsync(Guid envelopeId) =>
        await Sql.ScalarAsync<int?>($"SELECT owner_id FROM wolverine.wolverine_outgoing_envelopes WHERE id = '{envelopeId}'");
}
