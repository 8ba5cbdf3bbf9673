using Marten;
using NotificationService.Contracts;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.Marten;
using Wolverine.Runtime.Handlers;
using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;

namespace NotificationService.Core.Offers;

/// <summary>
/// Step <paramref name="Step"/> of the chain whose step <c>Step - 1</c> is job <paramref name="JobId"/> may be due: that job
/// ended (sent by <see cref="FallbackSubscription"/>), or <paramref name="Timer"/>: its fallbackAfterSeconds passed (a
/// durable scheduled message stored with the job).
/// </summary>
public sealed record StartFallbackStep(Guid OfferId, Guid JobId, int Step, bool Timer);

/// <summary>The offer and the adapters its chain's steps (and their failovers) may go to.</summary>
public sealed record ChainContext(Offer? Offer, IReadOnlyDictionary<string, Adapter> Adapters, IReadOnlyDictionary<Guid, AdapterHealth>? Health = null);

/// <summary>
/// Starts a chain's next step, under the previous job's stream lock: the previous job's events (its cancel when out of
/// time, the link forward), the new job's stream, its delivery through the outbox and its own timer, and the offer's
/// chain, all in one commit. A message for a step already started or skipped changes nothing.
/// </summary>
public static class StartFallbackStepHandler
{
    /// <summary>
    /// Another commit on the offer (a DELETE, an erasure, the other chain of the same offer) or the same step started by a
    /// racing message: tried again on fresh state, where the decision sees what was committed.
    /// </summary>
    public static void Configure(HandlerChain chain) =>
        chain.OnException<JasperFx.ConcurrencyException>().Or<JasperFx.Events.ExistingStreamIdCollisionException>().Or<Marten.Exceptions.ExistingStreamIdCollisionException>()
            .Or<Marten.Exceptions.MartenCommandException>(e => e.InnerException is Npgsql.PostgresException { SqlState: "23505" })
            .RetryWithCooldown(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1));

    public static async Task<ChainContext> LoadAsync(StartFallbackStep message, IDocumentSession session)
    {
        var offer = await session.LoadAsync<Offer>(message.OfferId);
        var names = offer?.Chains?.SelectMany(c => c.Steps.Skip(message.Step)).Select(s => s.Adapter).Distinct().ToArray() ?? [];
        var adapters = names.Length == 0 ? [] : (await session.Query<Adapter>().Where(a => names.Contains(a.Name)).ToListAsync()).ToDictionary(a => a.Name);
        var failovers = adapters.Values.Select(a => a.Policy.FailoverAdapter).OfType<string>().Where(n => !adapters.ContainsKey(n)).Distinct().ToArray();
        if (failovers.Length > 0)
            foreach (var adapter in await session.Query<Adapter>().Where(a => failovers.Contains(a.Name)).ToListAsync()) adapters[adapter.Name] = adapter;
        var watched = adapters.Values.Where(a => a.Policy.FailoverAdapter is not null).Select(a => a.Id).ToArray();
        var health = watched.Length == 0 ? null : (await session.LoadManyAsync<AdapterHealth>(watched)).ToDictionary(h => h.Id);
        return new ChainContext(offer, adapters, health);
    }

    public static (Events, IEnumerable<IMartenOp>, OutgoingMessages) Handle(
        StartFallbackStep message, ChainContext context, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] Job job, TimeProvider clock, FairShare fairShare)
    {
        if (context.Offer is not { } offer) return ([], [], []);
        var decision = FallbackChains.OnStepDue(offer, message, job, context.Adapters, clock.GetUtcNow(), context.Health);
        var operations = new List<IMartenOp>();
        var messages = new OutgoingMessages();
        if (decision.Broadcast) messages.Add(new JobCancellationBroadcast(job.Id, job.AdapterId));
        if (decision.CheckAgainAt is { } again) messages.Add(message.ScheduledAt(again));
        if (decision.Started is { } started)
        {
            operations.Add(MartenOps.StartStream<Job>(started.JobId, started.Events.ToArray()));
            messages.Add(fairShare.Deliver(started.JobId, offer.ServiceId, started.Adapter));
            if (started.TimerAt is { } at) messages.Add(new StartFallbackStep(offer.Id, started.JobId, started.Step + 1, Timer: true).ScheduledAt(at));
        }
        if (decision.OfferChanged) operations.Add(MartenOps.Store(offer));
        return ([.. decision.PreviousJobEvents], operations, messages);
    }
}
