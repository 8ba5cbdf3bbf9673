using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
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
    public static Task<LockedOffer> LoadAsync(Guid id, ClaimsPrincipal user, IDocumentSession session) => LockedOffer.FetchAsync(id, user, session);

    public static ProblemDetails Validate(LockedOffer offer) => offer.Offer is null ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    [WolverinePost("/v1/offers/{id}/erase", OperationId = "eraseOffer")]
    [Tags("Offers")]
    [EndpointSummary("Erase an offer's personal data")]
    [EndpointDescription("Erases the offer's metadata and the params of every job now. A job not started yet is canceled in the same commit; a job being sent is left alone and listed in `notEnded` (call again once it ended). States, times and attempts stay.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (OfferErased, IEnumerable<IMartenOp>) Post(Guid id, [NotBody] LockedOffer offer, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var decisions = offer.Jobs.Select(job => (job.Id, Decision: JobLifecycle.OnErasure(job, "offer", user.Actor(), now))).ToList();
        var outcomes = decisions.Select(d => (d.Id, d.Decision.Outcome)).ToList();
        var erased = outcomes.Where(o => o.Outcome == ErasureOutcome.Erased).Select(o => o.Id).ToList();
        offer.Offer!.Metadata = null;
        offer.Offer.ErasedAt ??= now;
        // The params kept on the offer for fallback steps not started yet go too; no later step starts.
        FallbackChains.Stop(offer.Offer, "Erased", now);
        var notEnded = outcomes.Where(o => o.Outcome == ErasureOutcome.NotEnded).Select(o => o.Id).ToList();
        // The same audit trail as an admin's erasure by recipient.
        var audit = new Erasure
        {
            Id = Guid.NewGuid(), Kind = "offer", OfferId = id, ServiceId = offer.Offer.ServiceId, By = user.Actor(), At = now, Erased = erased.Count, NotEnded = notEnded,
        };
        IEnumerable<IMartenOp> operations =
        [
            .. decisions.Select(d => new AppendJobEvents(d.Id, d.Decision.Events)),
            new MaskStoredParams(erased), MartenOps.Update(offer.Offer), MartenOps.Insert(audit),
        ];
        return (new OfferErased(id, erased.Count, outcomes.Count(o => o.Outcome == ErasureOutcome.AlreadyErased), notEnded), operations);
    }
}
