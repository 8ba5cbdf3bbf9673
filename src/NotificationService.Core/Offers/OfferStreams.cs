using Marten;
using JasperFx.Events;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Offers;

/// <summary>An offer with its jobs' streams fetched for exclusive writing, so its workers and sweepers wait their turn.</summary>
public sealed record OfferStreams(Offer? Offer, IReadOnlyList<IEventStream<Job>> Jobs)
{
    public static async Task<OfferStreams> FetchAsync(Guid offerId, IDocumentSession session)
    {
        var offer = await session.LoadAsync<Offer>(offerId);
        if (offer is null) return new OfferStreams(null, []);
        var streams = new List<IEventStream<Job>>();
        // One at a time and in a fixed order, so two requests on one offer cannot deadlock on each other's locks.
        foreach (var job in offer.Jobs.OrderBy(j => j.JobId)) streams.Add(await session.Events.FetchForExclusiveWriting<Job>(job.JobId));
        return new OfferStreams(offer, streams);
    }
}
