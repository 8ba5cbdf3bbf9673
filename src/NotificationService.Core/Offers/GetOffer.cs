using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Offers;

/// <summary><see cref="Templates"/>: for each job whose params were rendered from a template, which one (key, version, locale).</summary>
public sealed record OfferView(
    Guid Id, DateTimeOffset CreatedAt, DateTimeOffset? ExpireAt, DateTimeOffset? SendAt, Dictionary<string, string>? Metadata,
    DateTimeOffset? DeletedAt, IReadOnlyList<JobView> Jobs, IReadOnlyList<JobTemplateView> Templates)
{
    public static OfferView From(Offer offer, IEnumerable<Job> jobs)
    {
        var byId = jobs.ToDictionary(j => j.Id);
        return new OfferView(offer.Id, offer.CreatedAt, offer.ExpireAt, offer.SendAt, offer.Metadata, offer.DeletedAt,
            offer.Jobs.Where(j => byId.ContainsKey(j.JobId)).Select(j => JobView.From(byId[j.JobId])).ToList(),
            offer.Jobs.Where(j => j.Template is not null)
                .Select(j => new JobTemplateView(j.JobId, j.Template!.Key, j.Template.Version, j.Template.Locale, j.Template.Shared)).ToList());
    }
}

public sealed record JobTemplateView(Guid JobId, string Key, long Version, string Locale, bool Shared);

public static class GetOfferEndpoint
{
    public static Task<Offer?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Offer>(id);

    public static ProblemDetails Validate(Offer? offer, ClaimsPrincipal user) =>
        offer is null || offer.ServiceId != user.ServiceId() ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    /// <summary>The offer with each of its jobs' current state.</summary>
    [WolverineGet("/v1/offers/{id}", OperationId = "getOffer")]
    [Tags("Offers")]
    [EndpointSummary("Get an offer")]
    [EndpointDescription("The offer with each of its jobs' current state.")]
    public static async Task<OfferView> Get(Guid id, Offer offer, IQuerySession session) =>
        OfferView.From(offer, await session.LoadManyAsync<Job>(offer.Jobs.Select(j => j.JobId)));
}
