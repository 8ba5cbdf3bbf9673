using System.Text.Json;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Marten.Subscriptions;

namespace NotificationService.Core.Callbacks;

/// <summary>What a receiver gets (README "Status callbacks"); <see cref="Id"/> is the job event's id, the same on every redelivery.</summary>
public sealed record CallbackPayload(
    Guid Id, string Type, Guid JobId, Guid OfferId, string Adapter, string State, int Attempt, long Sequence, DateTimeOffset OccurredAt,
    string? Error, Dictionary<string, string>? Metadata);

/// <summary>
/// Turns committed job events into callback deliveries. It runs in the async daemon, so it only ever sees committed events,
/// and Wolverine enlists the messages it publishes in the transaction that stores the subscription's progress: a batch's
/// deliveries are stored exactly when the daemon moves past it, and a core that dies mid-batch leaves the batch to be
/// processed again (by whichever core runs the daemon next), never lost.
/// </summary>
public sealed class CallbackSubscription : BatchSubscription
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public CallbackSubscription() : base("callbacks")
    {
        IncludeType<JobScheduled>();
        IncludeType<JobQueued>();
        IncludeType<JobStarted>();
        IncludeType<JobAttemptFailed>();
        IncludeType<JobFinished>();
        IncludeType<JobFailed>();
        IncludeType<JobExpired>();
        IncludeType<JobCanceled>();
    }

    public override async Task ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, IMessageBus bus, CancellationToken cancellationToken)
    {
        var events = page.Events.Where(e => CallbackEvents.Describe(e.Data) is not null).ToList();
        if (events.Count == 0) return;
        // One query each for the callbacks, the jobs and their offers, whatever the batch's size; with no callback enabled
        // anywhere (the common case before anyone registers one) the batch costs that one query.
        var enabled = await operations.Query<CallbackEndpoint>().Where(c => c.Enabled).ToListAsync(cancellationToken);
        if (enabled.Count == 0) return;
        var callbacks = enabled.ToLookup(c => c.ServiceId);
        var jobs = (await operations.LoadManyAsync<Job>(cancellationToken, events.Select(e => e.StreamId).Distinct()))
            .Where(j => callbacks.Contains(j.ServiceId)).ToDictionary(j => j.Id);
        var offers = (await operations.LoadManyAsync<Offer>(cancellationToken, jobs.Values.Select(j => j.OfferId).Distinct()))
            .ToDictionary(o => o.Id);

        foreach (var message in Dispatch(events, jobs, offers, callbacks)) await bus.PublishAsync(message);
    }

    /// <summary>One delivery per (event, subscribed callback); a job erased or deleted since is skipped (nothing left to report).</summary>
    public static IEnumerable<DeliverCallback> Dispatch(
        IEnumerable<IEvent> events, IReadOnlyDictionary<Guid, Job> jobs, IReadOnlyDictionary<Guid, Offer> offers, ILookup<Guid, CallbackEndpoint> callbacks)
    {
        foreach (var e in events)
        {
            if (CallbackEvents.Describe(e.Data) is not { } what || !jobs.TryGetValue(e.StreamId, out var job)) continue;
            var subscribed = callbacks[job.ServiceId].Where(c => c.Events.Contains(what.Name)).ToList();
            if (subscribed.Count == 0) continue;
            offers.TryGetValue(job.OfferId, out var offer);
            var payload = new CallbackPayload(e.Id, "job." + what.Name, job.Id, job.OfferId, job.AdapterName, what.State.ToString(),
                what.Attempt ?? job.Attempts, e.Version, e.Timestamp, what.Error, offer?.Metadata);
            var body = JsonSerializer.Serialize(payload, Json);
            foreach (var callback in subscribed)
                yield return new DeliverCallback(callback.Id, e.Id, payload.Type, job.Id, offer?.CallbackUrl ?? callback.Url, body, 1);
        }
    }
}
