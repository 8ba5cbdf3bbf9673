using Marten;
using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
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

/// <summary>
/// The offer and the adapters its chain's steps (and their failovers) may go to; by (step, failover name), why a step's
/// params do not match that failover's params schema.
/// </summary>
public sealed record ChainContext(
    Offer? Offer, IReadOnlyDictionary<string, Adapter> Adapters, IReadOnlyDictionary<Guid, AdapterHealth>? Health = null,
    IReadOnlyDictionary<(int Step, string Adapter), string>? ParamsErrors = null);

/// <summary>
/// Starts a chain's next step, under the previous job's stream lock: the previous job's events (its cancel when out of
/// time, the link forward), the new job's stream, its delivery through the outbox and its own timer, and the offer's
/// chain, all in one commit. A message for a step already started or skipped changes nothing.
/// </summary>
public static class StartFallbackStepHandler
{
    /// <summary>
    /// Another commit on the offer (a DELETE, an erasure, the other chain of the same offer, the retention sweep deleting it)
    /// or the same step started by a racing message: tried again on fresh state, where the decision sees what was
    /// committed (an offer gone ends it quietly). All chains of an offer store the same offer document, so many of them
    /// moving at once can conflict more than a few times in a row: after the quick retries the message is scheduled again,
    /// like a PostgreSQL blip, rather than dead-lettered (no one would restart the chain from a dead letter).
    /// </summary>
    public static void Configure(HandlerChain chain)
    {
        chain.OnException<JasperFx.ConcurrencyException>().Or<JasperFx.Events.ExistingStreamIdCollisionException>().Or<Marten.Exceptions.ExistingStreamIdCollisionException>()
            .Or<Marten.Exceptions.MartenCommandException>(e => e.InnerException is Npgsql.PostgresException { SqlState: "23505" })
            .RetryWithCooldown(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1))
            .Then.ScheduleRetry(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60),
                TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(300));
        chain.OnException<Exception>(TransientDatabaseErrors.Matches)
            .RetryWithCooldown(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2))
            .Then.ScheduleRetry(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(300));
    }

    public static async Task<ChainContext> LoadAsync(StartFallbackStep message, IDocumentSession session, JsonSchemas schemas)
    {
        var offer = await session.LoadAsync<Offer>(message.OfferId);
        var names = offer?.Chains?.SelectMany(c => c.Steps.Skip(message.Step)).Select(s => s.Adapter).Distinct().ToArray() ?? [];
        var adapters = names.Length == 0 ? [] : (await session.Query<Adapter>().Where(a => names.Contains(a.Name)).ToListAsync()).ToDictionary(a => a.Name);
        var failovers = adapters.Values.Select(a => a.Policy.FailoverAdapter).OfType<string>().Where(n => !adapters.ContainsKey(n)).Distinct().ToArray();
        if (failovers.Length > 0)
            foreach (var adapter in await session.Query<Adapter>().Where(a => failovers.Contains(a.Name)).ToListAsync()) adapters[adapter.Name] = adapter;
        var watched = adapters.Values.Where(a => a.Policy.FailoverAdapter is not null).Select(a => a.Id).ToArray();
        var health = watched.Length == 0 ? null : (await session.LoadManyAsync<AdapterHealth>(watched)).ToDictionary(h => h.Id);
        return new ChainContext(offer, adapters, health, offer is null ? null : await FailoverParamsErrorsAsync(offer, message, adapters, schemas));
    }

    /// <summary>
    /// A step's params were checked at accept against its own adapter; routed to a failover when it starts, they must match
    /// that adapter's params schema too (README "Failover between adapters"), or the step is skipped.
    /// </summary>
    private static async Task<Dictionary<(int, string), string>?> FailoverParamsErrorsAsync(
        Offer offer, StartFallbackStep message, IReadOnlyDictionary<string, Adapter> adapters, JsonSchemas schemas)
    {
        if (FallbackChains.ChainOf(offer, message) is not { EndedAt: null } chain) return null;
        Dictionary<(int, string), string>? errors = null;
        for (var step = message.Step; step < chain.Steps.Count; step++)
        {
            if (chain.Steps[step] is not { Params: { } parameters } next || !adapters.TryGetValue(next.Adapter, out var own)) continue;
            if (own.Policy.FailoverAdapter is not { } name || !adapters.TryGetValue(name, out var failover)) continue;
            if ((await schemas.ValidateAsync(failover.ParamsSchema, parameters, "params")) is [var (path, text), ..])
                (errors ??= [])[(step, failover.Name)] = $"{path} {text}";
        }
        return errors;
    }

    public static (Events, IEnumerable<IMartenOp>, OutgoingMessages) Handle(
        StartFallbackStep message, ChainContext context, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive, Required = false)] Job? job,
        TimeProvider clock, FairShare fairShare)
    {
        // No job: its stream was deleted (retention sweep); the decision ends the chain.
        if (context.Offer is not { } offer) return ([], [], []);
        var decision = FallbackChains.OnStepDue(offer, message, job, context.Adapters, clock.GetUtcNow(), context.Health, context.ParamsErrors);
        var operations = new List<IMartenOp>();
        var messages = new OutgoingMessages();
        if (decision.Broadcast && job is not null) messages.Add(new JobCancellationBroadcast(job.Id, job.AdapterId));
        if (decision.CheckAgainAt is { } again) messages.Add(message.ScheduledAt(again));
        if (decision.Started is { } started)
        {
            operations.Add(new StartJobStream(started.JobId, started.Events));
            messages.Add(fairShare.Deliver(started.JobId, offer.ServiceId, started.Adapter));
            if (started.TimerAt is { } at) messages.Add(new StartFallbackStep(offer.Id, started.JobId, started.Step + 1, Timer: true).ScheduledAt(at));
        }
        if (decision.OfferChanged) operations.Add(MartenOps.Update(offer));
        return ([.. decision.PreviousJobEvents], operations, messages);
    }
}
