using System.Security.Claims;
using Marten;
using NotificationService.Core.Auth;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Offers;

/// <summary>
/// An offer with its jobs, their streams fetched for exclusive writing, so its workers and sweepers wait their turn until
/// this request commits. Append to them with <see cref="AppendJobEvents"/> in the same session.
/// </summary>
public sealed record LockedOffer(Offer? Offer, IReadOnlyList<Job> Jobs)
{
    /// <summary>
    /// The caller's offer, or none (<see cref="Offer"/> null: a 404) if it does not exist or is another service's, whose
    /// job streams are then never locked, so a request naming someone else's offer cannot hold up that service's jobs.
    /// </summary>
    public static async Task<LockedOffer> FetchAsync(Guid offerId, ClaimsPrincipal user, IDocumentSession session)
    {
        var offer = await session.LoadAsync<Offer>(offerId);
        if (offer is null || offer.ServiceId != user.ServiceId()) return new LockedOffer(null, []);
        var jobs = new List<Job>();
        // One at a time and in a fixed order, so two requests on one offer cannot deadlock on each other's locks.
        foreach (var job in offer.Jobs.OrderBy(j => j.JobId))
        {
            // A stream the retention sweep already deleted (the offer goes in its next step) has no job left to change.
            if ((await session.Events.FetchForExclusiveWriting<Job>(job.JobId)).Aggregate is { } locked) jobs.Add(locked);
        }
        return new LockedOffer(offer, jobs);
    }
}
