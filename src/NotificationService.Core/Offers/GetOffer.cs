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
    DateTimeOffset? DeletedAt, IReadOnlyList<JobView> Jobs, IReadOnlyList<JobTemplateView> Templates, IReadOnlyList<ChainView>? Chains = null)
{
    public static OfferView From(Offer offer, IEnumerable<Job> jobs)
    {
        var byId = jobs.ToDictionary(j => j.Id);
        return new OfferView(offer.Id, offer.CreatedAt, offer.ExpireAt, offer.SendAt, offer.Metadata, offer.DeletedAt,
            offer.Jobs.Where(j => byId.ContainsKey(j.JobId)).Select(j => JobView.From(byId[j.JobId])).ToList(),
            offer.Jobs.Where(j => j.Template is not null)
                .Select(j => new JobTemplateView(j.JobId, j.Template!.Key, j.Template.Version, j.Template.Locale, j.Template.Shared, j.Template.TemplateId)).ToList(),
            offer.Chains?.Select(c => ChainView.From(c, byId)).ToList());
    }
}

/// <summary>
/// A target's fallback chain: its steps in order (step 0 is the target itself), the job each created and that job's
/// state; <see cref="Outcome"/> once it ended (Finished, Canceled, Exhausted, Expired, Deleted, Erased).
/// </summary>
public sealed record ChainView(int Target, int? FallbackAfterSeconds, IReadOnlyList<ChainStepView> Steps, DateTimeOffset? EndedAt, string? Outcome)
{
    public static ChainView From(FallbackChain chain, IReadOnlyDictionary<Guid, Job> jobs) =>
        new(chain.Target, chain.AfterSeconds, chain.Steps.Select((s, i) =>
        {
            var job = s.JobId is { } id ? jobs.GetValueOrDefault(id) : null;
            var state = job?.State.ToString() ?? (s.SkippedAt is not null ? "Skipped" : "NotStarted");
            return new ChainStepView(i, s.Adapter, s.JobId, job?.AdapterName, state, s.Reason, s.StartedAt ?? s.SkippedAt);
        }).ToList(), chain.EndedAt, chain.Outcome);
}

/// <param name="State">the step's job's state, or NotStarted, or Skipped (its adapter could not be used when it was due: see Reason)</param>
/// <param name="JobAdapter">the adapter the job went to (its failover, when the named one was blocked)</param>
/// <param name="Reason">why it started (Failed, Expired, NotFinishedInTime: what happened to the step before) or was skipped</param>
public sealed record ChainStepView(int Step, string Adapter, Guid? JobId, string? JobAdapter, string State, string? Reason, DateTimeOffset? At);

/// <param name="TemplateId">the template's id (a key deleted and created again names a new template, whose versions restart at 1); null for offers accepted before it was recorded</param>
public sealed record JobTemplateView(Guid JobId, string Key, long Version, string Locale, bool Shared, Guid? TemplateId = null);

public static class GetOfferEndpoint
{
    public static Task<Offer?> LoadAsync(Guid id, IQuerySession session) => session.LoadAsync<Offer>(id);

    public static ProblemDetails Validate(Offer? offer, ClaimsPrincipal user) =>
        offer is null || offer.ServiceId != user.ServiceId() ? Problems.NotFound("Offer") : WolverineContinue.NoProblems;

    /// <summary>The offer with each of its jobs' current state.</summary>
    [WolverineGet("/v1/offers/{id}", OperationId = "getOffer")]
    [Tags("Offers")]
    [EndpointSummary("Get an offer")]
    [EndpointDescription("The offer with each of its jobs' current state, and each fallback chain: its steps, the job each created and that job's state.")]
    public static async Task<OfferView> Get(Guid id, Offer offer, IQuerySession session) =>
        OfferView.From(offer, await session.LoadManyAsync<Job>(offer.Jobs.Select(j => j.JobId)));
}
