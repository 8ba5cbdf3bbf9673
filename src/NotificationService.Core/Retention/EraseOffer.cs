using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Retention;

/// <summary>How many of the offer's jobs had their params erased now, and which ones are still being sent (not erased).</summary>
public sealed record OfferErased(Guid Id, int Erased, int AlreadyErased, IReadOnlyList<Guid> NotEnded);

/// <summary>
/// A data-subject request for one offer: its metadata and the params of every job are erased now. A job not started yet
/// is canceled in the same commit (it must never be sent with erased params); a job being sent (Started) is left alone
/// and listed in <c>notEnded</c>: call again once it ended. The job's state, times and attempts stay.
/// </summary>
public static class EraseOfferEndpoint
{
    public static Task<OfferStreams> LoadAsync(Guid id, IDocumentSession session) => OfferStreams.FetchAsync(id, session);

    public static ProblemDetails Validate(OfferStreams offer, ClaimsPrincipal user) =>
        offer.Offer is null || offer.Offer.ServiceId != user.ServiceId() ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    [WolverinePost("/v1/offers/{id}/erase", OperationId = "eraseOffer")]
    [Tags("Offers")]
    [EndpointSummary("Erase an offer's personal data")]
    [EndpointDescription("Erases the offer's metadata and the params of every job now. A job not started yet is canceled in the same commit; a job being sent is left alone and listed in `notEnded` (call again once it ended). States, times and attempts stay.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (OfferErased, MaskStoredParams, IMartenOp, IMartenOp) Post(Guid id, [NotBody] OfferStreams offer, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        // A stream the retention sweep already deleted (the offer goes in its next step) has nothing left to erase.
        var outcomes = offer.Jobs.Where(stream => stream.Aggregate is not null).Select(stream => (stream.Id, Outcome: JobErasure.Decide(stream, "offer", user.Actor(), now))).ToList();
        var erased = outcomes.Where(o => o.Outcome == ErasureOutcome.Erased).Select(o => o.Id).ToList();
        offer.Offer!.Metadata = null;
        offer.Offer.ErasedAt ??= now;
        var notEnded = outcomes.Where(o => o.Outcome == ErasureOutcome.NotEnded).Select(o => o.Id).ToList();
        // The same audit trail as an admin's erasure by recipient.
        var audit = new Erasure
        {
            Id = Guid.NewGuid(), Kind = "offer", OfferId = id, ServiceId = offer.Offer.ServiceId, By = user.Actor(), At = now, Erased = erased.Count, NotEnded = notEnded,
        };
        return (new OfferErased(id, erased.Count, outcomes.Count(o => o.Outcome == ErasureOutcome.AlreadyErased), notEnded),
            new MaskStoredParams(erased), MartenOps.Store(offer.Offer), MartenOps.Insert(audit));
    }
}
