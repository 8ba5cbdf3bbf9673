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
        // Not SubscribeFromPresent: that also starts at the head after a restart (a killed core, a PostgreSQL restart),
        // passing over the events committed since the last batch (./ns chaos lost 78 that way). History is kept out of
        // callbacks by Dispatch instead, which skips events older than the callback they would go to.
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
        var streamIds = events.Select(e => e.StreamId).Distinct().ToList();
        var jobs = (await operations.LoadManyAsync<Job>(cancellationToken, streamIds)).ToDictionary(j => j.Id);
        // A projection rebuild tears the Job documents down and writes them again: a job whose stream exists but whose
        // document is missing right now is aggregated from its events, so the rebuild never makes this batch skip it.
        // Only a job whose stream is gone (deleted by retention) has nothing left to report.
        foreach (var id in streamIds.Where(id => !jobs.ContainsKey(id)))
            if (await operations.Events.AggregateStreamAsync<Job>(id, token: cancellationToken) is { } live) jobs[id] = live;
        foreach (var id in jobs.Where(j => !callbacks.Contains(j.Value.ServiceId)).Select(j => j.Key).ToList()) jobs.Remove(id);
        var offers = (await operations.LoadManyAsync<Offer>(cancellationToken, jobs.Values.Select(j => j.OfferId).Distinct()))
            .ToDictionary(o => o.Id);

        foreach (var message in Dispatch(events, jobs, offers, callbacks)) await bus.PublishAsync(message);
    }

    /// <summary>
    /// One delivery per (event, subscribed callback); with the offer's <c>callbackUrl</c>, exactly one: to that URL, with the
    /// service's oldest enabled callback subscribed to the event (its secret signs it). Skipped: a job erased or deleted
    /// since (nothing left to report) and events older than the callback (a callback gets only what happened after it
    /// was registered). The stored body has no metadata: the sender puts in the offer's metadata as it is when each attempt
    /// is made (<see cref="CallbackMetadata"/>), so an erasure between dispatch and a retry is respected and the queue
    /// never holds a copy of it.
    /// </summary>
    public static IEnumerable<DeliverCallback> Dispatch(
        IEnumerable<IEvent> events, IReadOnlyDictionary<Guid, Job> jobs, IReadOnlyDictionary<Guid, Offer> offers, ILookup<Guid, CallbackEndpoint> callbacks)
    {
        foreach (var e in events)
        {
            if (CallbackEvents.Describe(e.Data) is not { } what || !jobs.TryGetValue(e.StreamId, out var job)) continue;
            var subscribed = callbacks[job.ServiceId].Where(c => c.Events.Contains(what.Name) && c.CreatedAt <= e.Timestamp)
                .OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).ToList();
            if (subscribed.Count == 0) continue;
            offers.TryGetValue(job.OfferId, out var offer);
            var payload = new CallbackPayload(e.Id, "job." + what.Name, job.Id, job.OfferId, job.AdapterName, what.State.ToString(),
                what.Attempt ?? job.Attempts, e.Version, e.Timestamp, what.Error, Metadata: null);
            var body = JsonSerializer.Serialize(payload, Json);
            if (offer?.CallbackUrl is { } overrideUrl)
                yield return new DeliverCallback(subscribed[0].Id, e.Id, payload.Type, job.Id, overrideUrl, body, 1);
            else
                foreach (var callback in subscribed)
                    yield return new DeliverCallback(callback.Id, e.Id, payload.Type, job.Id, callback.Url, body, 1);
        }
    }
}
