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
    public static Task<OfferStreams> LoadAsync(Guid id, IDocumentSession session) => OfferStreams.FetchAsync(id, session);

    public static ProblemDetails Validate(OfferStreams offer, ClaimsPrincipal user) =>
        offer.Offer is null || offer.Offer.ServiceId != user.ServiceId() ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    [WolverineDelete("/v1/offers/{id}", OperationId = "deleteOffer")]
    [Tags("Offers")]
    [EndpointSummary("Delete an offer")]
    [EndpointDescription("Cancels every unfinished job of the offer and marks it deleted; its history stays readable.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (OfferDeleted, IMartenOp, OutgoingMessages) Delete(Guid id, [NotBody] OfferStreams offer, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var messages = new OutgoingMessages();
        var jobs = new List<AcceptedJob>();
        foreach (var stream in offer.Jobs)
        {
            var (state, broadcast) = Cancellation.Apply(stream, user.Actor(), now);
            if (broadcast is not null) messages.Add(broadcast);
            jobs.Add(new AcceptedJob(stream.Id, stream.Aggregate!.AdapterName, state));
        }

        offer.Offer!.DeletedAt ??= now;
        return (new OfferDeleted(id, jobs), MartenOps.Store(offer.Offer), messages);
    }
}
