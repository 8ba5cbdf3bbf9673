using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Limits;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Offers;

/// <summary>
/// update_one. Absent fields stay as they are; job params, expiry and send time change only before a job starts.
/// Metadata is a JSON merge patch (RFC 7396): keys left out stay, a key set to null is removed.
/// </summary>
public sealed record UpdateOffer(DateTimeOffset? ExpireAt, DateTimeOffset? SendAt, Dictionary<string, string?>? Metadata, List<JobParamsChange>? Jobs);

public sealed record JobParamsChange(Guid Id, JsonElement Params);

public static class UpdateOfferEndpoint
{
    public static Task<LockedOffer> LoadAsync(Guid id, ClaimsPrincipal user, IDocumentSession session) => LockedOffer.FetchAsync(id, user, session);

    public static async Task<ProblemDetails> ValidateAsync(
        UpdateOffer command, LockedOffer offer, ClaimsPrincipal user, IQuerySession session, JsonSchemas schemas, TimeProvider clock,
        HttpContext httpContext, LimitDefaults defaults)
    {
        if (offer.Offer is null) return Problems.NotFound("Offer");
        if (offer.Offer.DeletedAt is not null) return Problems.Conflict("The offer was deleted.");
        if (offer.Offer.ErasedAt is not null) return Problems.Conflict("The offer was erased.");

        var now = clock.GetUtcNow();
        var jobs = offer.Jobs;
        var errors = new List<(string, string)>();
        if (command.ExpireAt is { } expireAt && expireAt <= now) errors.Add(("expireAt", "Must be in the future."));
        if (command.SendAt is { } sendAt && sendAt <= now) errors.Add(("sendAt", "Must be in the future."));
        var newSendAt = command.SendAt ?? offer.Offer.SendAt;
        if (command.ExpireAt is { } until && newSendAt is { } from && until <= from) errors.Add(("expireAt", "Must be after sendAt."));
        if (MergeMetadata(offer.Offer.Metadata, command.Metadata) is { Count: > CreateOfferEndpoint.MaxMetadataEntries })
            errors.Add(("metadata", $"At most {CreateOfferEndpoint.MaxMetadataEntries} entries (after merging with the stored ones)."));

        var adapters = (await session.LoadManyAsync<Adapter>(jobs.Select(j => j.AdapterId).Distinct())).ToDictionary(a => a.Id);
        for (var i = 0; i < (command.Jobs?.Count ?? 0); i++)
        {
            var change = command.Jobs![i];
            if (jobs.FirstOrDefault(j => j.Id == change.Id) is not { } job) { errors.Add(($"jobs[{i}].id", "Not a job of this offer.")); continue; }
            if (!job.IsPending) return Problems.Conflict($"Job {job.Id} has already started ({job.State}); its params can no longer change.");
            if (CreateOfferEndpoint.ParamsTooLarge(change.Params, httpContext.LimitsOf(defaults)) is { } tooLarge) { errors.Add(($"jobs[{i}].params", tooLarge)); continue; }
            if (adapters.TryGetValue(job.AdapterId, out var adapter))
                errors.AddRange(await schemas.ValidateAsync(adapter.ParamsSchema, change.Params, $"jobs[{i}].params"));
        }
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());

        if ((command.ExpireAt is not null || command.SendAt is not null) && jobs.FirstOrDefault(j => !j.IsPending) is { } started)
            return Problems.Conflict($"Job {started.Id} has already started ({started.State}); the offer's times can no longer change.");
        if (command.SendAt is not null && jobs.FirstOrDefault(j => j.State != JobState.Scheduled) is { } queued)
            return Problems.Conflict($"Job {queued.Id} is already queued for delivery; only a scheduled offer's send time can move.");
        return WolverineContinue.NoProblems;
    }

    [WolverinePatch("/v1/offers/{id}", OperationId = "updateOffer")]
    [Tags("Offers")]
    [EndpointSummary("Change an offer")]
    [EndpointDescription("Changes the metadata, the times or a pending job's params. Times and params can change only while no job has started (409 otherwise). New params of a job rendered from a template replace the rendered ones as they are (nothing is re-rendered) and the offer no longer names a template for that job.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (OfferView, IEnumerable<IMartenOp>, OutgoingMessages) Patch(Guid id, UpdateOffer command, [NotBody] LockedOffer offer, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var operations = new List<IMartenOp>();
        var messages = new OutgoingMessages();
        var jobs = new List<Job>();
        foreach (var job in offer.Jobs)
        {
            var events = JobLifecycle.OnChange(job, command.ExpireAt, command.SendAt, command.Jobs?.FirstOrDefault(c => c.Id == job.Id)?.Params, now);
            operations.Add(new AppendJobEvents(job.Id, events));
            // The message for the old time finds the send time moved and does nothing.
            foreach (var rescheduled in events.OfType<JobRescheduled>())
            {
                messages.Add(new QueueScheduledJob(job.Id, job.AdapterId, rescheduled.SendAt).ScheduledAt(rescheduled.SendAt));
                // Its chain's first timer counts from the send time: a new one for the new time (moved earlier, the old one
                // would fire late; moved later, the old one finds the job still waiting and looks again; a step already
                // started makes either a no-op).
                if (offer.Offer!.Chains?.FirstOrDefault(c => c.Steps.Count > 1 && c.Steps[0].JobId == job.Id) is { AfterSeconds: { } after })
                    messages.Add(new StartFallbackStep(offer.Offer.Id, job.Id, 1, Timer: true).ScheduledAt(rescheduled.SendAt.AddSeconds(after)));
            }
            // The response shows the jobs as the commit will leave them.
            jobs.Add(job.After(events));
        }

        var updated = offer.Offer!;
        updated.ExpireAt = command.ExpireAt ?? updated.ExpireAt;
        updated.SendAt = command.SendAt ?? updated.SendAt;
        updated.Metadata = MergeMetadata(updated.Metadata, command.Metadata);
        // New params replace a templated job's rendered ones as they are (no re-render): the job no longer says what its
        // template rendered, so the offer stops saying it came from one.
        if (command.Jobs is { Count: > 0 } changed)
            updated.Jobs = updated.Jobs.Select(j => j.Template is not null && changed.Any(c => c.Id == j.JobId) ? j with { Template = null } : j).ToList();
        operations.Add(MartenOps.Update(updated));
        return (OfferView.From(updated, jobs), operations, messages);
    }

    public static Dictionary<string, string>? MergeMetadata(Dictionary<string, string>? stored, Dictionary<string, string?>? patch)
    {
        if (patch is null) return stored;
        var merged = new Dictionary<string, string>(stored ?? []);
        foreach (var (key, value) in patch)
            if (value is null) merged.Remove(key);
            else merged[key] = value;
        return merged;
    }
}
