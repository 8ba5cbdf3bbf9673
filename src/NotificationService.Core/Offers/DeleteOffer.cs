using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Offers;

public sealed record OfferDeleted(Guid Id, IReadOnlyList<AcceptedJob> Jobs) : AcceptedResource($"/v1/offers/{Id}");

/// <summary>delete_one: cancels every unfinished job and marks the offer deleted; its history stays readable.</summary>
public static class DeleteOfferEndpoint
{
    public static Task<LockedOffer> LoadAsync(Guid id, ClaimsPrincipal user, IDocumentSession session) => LockedOffer.FetchAsync(id, user, session);

    public static ProblemDetails Validate(LockedOffer offer) => offer.Offer is null ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    [WolverineDelete("/v1/offers/{id}", OperationId = "deleteOffer")]
    [Tags("Offers")]
    [EndpointSummary("Delete an offer")]
    [EndpointDescription("Cancels every unfinished job of the offer, ends its fallback chains (no later step starts) and marks it deleted; its history stays readable.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (OfferDeleted, IEnumerable<IMartenOp>, OutgoingMessages) Delete(Guid id, [NotBody] LockedOffer offer, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var operations = new List<IMartenOp>();
        var messages = new OutgoingMessages();
        var jobs = new List<AcceptedJob>();
        foreach (var job in offer.Jobs)
        {
            var cancel = Cancellation.Of(job, user.Actor(), now);
            operations.Add(new AppendJobEvents(job.Id, cancel.Events));
            if (cancel.Broadcast is not null) messages.Add(cancel.Broadcast);
            jobs.Add(new AcceptedJob(job.Id, job.AdapterName, cancel.State));
        }

        offer.Offer!.DeletedAt ??= now;
        // No later step of a fallback chain starts after this (the chain's current job was canceled above).
        FallbackChains.Stop(offer.Offer, "Deleted", now);
        operations.Add(MartenOps.Update(offer.Offer));
        return (new OfferDeleted(id, jobs), operations, messages);
    }
}
