using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Marten.Subscriptions;

namespace NotificationService.Core.Offers;

/// <summary>
/// Turns the end of a chain step's job into a <see cref="StartFallbackStep"/>: Failed and Expired start the next step,
/// Finished and Canceled end the chain (dropping the params kept for its later steps). Like the callbacks' subscription,
/// it runs in the async daemon (HotCold: one core at a time) on committed events only, and Wolverine stores the messages
/// it publishes in the transaction that moves the subscription past them: none is lost when a core dies mid-batch.
/// </summary>
public sealed class FallbackSubscription : BatchSubscription
{
    public FallbackSubscription() : base("fallbacks")
    {
        IncludeType<JobFinished>();
        IncludeType<JobFailed>();
        IncludeType<JobExpired>();
        IncludeType<JobCanceled>();
        // For failover: an adapter failing transiently since when (AdapterHealth).
        IncludeType<JobAttemptFailed>();
    }

    public override async Task ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, IMessageBus bus, CancellationToken cancellationToken)
    {
        var ended = page.Events.Where(e => e.Data is not JobAttemptFailed).Select(e => e.StreamId).Distinct().ToList();
        var streams = page.Events.Select(e => e.StreamId).Distinct().ToList();
        if (streams.Count == 0) return;
        // At most three queries a batch: the jobs' offer and adapter (those two fields only: a whole Job document carries
        // its params, up to 1 MiB, that nothing here reads), those of their offers that have a chain, and the health of
        // their adapters, which only an attempt that failed or a delivery can change.
        var jobs = await operations.Query<Job>().Where(j => streams.Contains(j.Id))
            .Select(j => new { j.Id, j.OfferId, j.AdapterId }).ToListAsync(cancellationToken);
        var offerIds = jobs.Where(j => ended.Contains(j.Id)).Select(j => j.OfferId).Distinct().ToList();
        if (offerIds.Count > 0)
        {
            var offers = await operations.Query<Offer>().Where(o => offerIds.Contains(o.Id) && o.Chains != null).ToListAsync(cancellationToken);
            foreach (var message in Dispatch(ended, offers)) await bus.PublishAsync(message);
        }

        if (!page.Events.Any(e => e.Data is JobAttemptFailed or JobFinished)) return;
        var adapterOfJob = jobs.ToDictionary(j => j.Id, j => j.AdapterId);
        var health = (await operations.LoadManyAsync<AdapterHealth>(cancellationToken, adapterOfJob.Values.Distinct())).ToDictionary(h => h.Id);
        foreach (var changed in AdapterHealth.Track(page.Events, adapterOfJob, health)) operations.Store(changed);
    }

    /// <summary>One message per job that is a step of a chain still running; its handler decides from the job's state.</summary>
    public static IEnumerable<StartFallbackStep> Dispatch(IEnumerable<Guid> endedJobs, IEnumerable<Offer> offers)
    {
        var ended = endedJobs.ToHashSet();
        foreach (var offer in offers)
        foreach (var chain in (offer.Chains ?? []).Where(c => c.EndedAt is null))
            for (var step = 0; step < chain.Steps.Count; step++)
                if (chain.Steps[step].JobId is { } jobId && ended.Contains(jobId))
                    yield return new StartFallbackStep(offer.Id, jobId, step + 1, Timer: false);
    }
}
