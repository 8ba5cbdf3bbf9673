using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Offers;

public sealed record CreateOffer(
    List<OfferTarget>? Targets, DateTimeOffset? ExpireAt, DateTimeOffset? SendAt, Dictionary<string, string>? Metadata);

public sealed record OfferTarget(string? Adapter, JsonElement Params);

public sealed record AcceptedJob(Guid Id, string Adapter, JobState State);

/// <summary>202: the offer and its jobs are stored and their delivery is on its way through the outbox.</summary>
public sealed record OfferAccepted(Guid Id, IReadOnlyList<AcceptedJob> Jobs) : AcceptedResource($"/v1/offers/{Id}");

/// <summary>The adapters an offer names, loaded once for validation and for building the jobs.</summary>
public sealed record TargetAdapters(IReadOnlyDictionary<string, Adapter> ByName);

public static class CreateOfferEndpoint
{
    public const int MaxTargets = 100;

    public static async Task<TargetAdapters> LoadAsync(CreateOffer command, IQuerySession session)
    {
        var names = (command.Targets ?? []).Select(t => t?.Adapter).OfType<string>().Distinct().ToArray();
        var adapters = names.Length == 0 ? [] : await session.Query<Adapter>().Where(a => names.Contains(a.Name)).ToListAsync();
        return new TargetAdapters(adapters.ToDictionary(a => a.Name));
    }

    public static async Task<ProblemDetails> ValidateAsync(CreateOffer command, TargetAdapters adapters, JsonSchemas schemas, TimeProvider clock)
    {
        var errors = new List<(string, string)>();
        if (command.Targets is not { Count: > 0 }) errors.Add(("targets", "At least one target is required."));
        else if (command.Targets.Count > MaxTargets) errors.Add(("targets", $"At most {MaxTargets} targets per offer."));
        if (command.ExpireAt is { } expireAt && expireAt <= clock.GetUtcNow()) errors.Add(("expireAt", "Must be in the future."));
        if (command.ExpireAt is { } until && command.SendAt is { } sendAt && until <= sendAt) errors.Add(("expireAt", "Must be after sendAt."));
        if (command.SendAt is not null) errors.Add(("sendAt", "Scheduled sends are not supported yet."));

        for (var i = 0; i < (command.Targets?.Count ?? 0) && command.Targets!.Count <= MaxTargets; i++)
        {
            var target = command.Targets[i];
            var path = $"targets[{i}]";
            if (target?.Adapter is not { } name) { errors.Add(($"{path}.adapter", "is required")); continue; }
            if (!adapters.ByName.TryGetValue(name, out var adapter)) { errors.Add(($"{path}.adapter", $"No adapter named '{name}'.")); continue; }
            if (adapter.Status != AdapterStatus.Active) { errors.Add(($"{path}.adapter", $"Adapter '{name}' is blocked.")); continue; }
            errors.AddRange(await schemas.ValidateAsync(adapter.ParamsSchema, target.Params, $"{path}.params"));
        }
        return errors.Count > 0 ? Problems.Invalid(errors.ToArray()) : WolverineContinue.NoProblems;
    }

    /// <summary>
    /// The offer, one job stream per target and one delivery message per job commit in one transaction: the messages
    /// go through the durable outbox, so an accepted job reaches its queue even if the broker is down right now.
    /// </summary>
    [WolverinePost("/v1/offers")]
    public static (OfferAccepted, IEnumerable<IMartenOp>, OutgoingMessages) Post(
        CreateOffer command, TargetAdapters adapters, ClaimsPrincipal user, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var offer = new Offer
        {
            Id = Guid.NewGuid(), ServiceId = user.ServiceId(), CreatedAt = now,
            ExpireAt = command.ExpireAt, SendAt = command.SendAt, Metadata = command.Metadata,
        };
        var operations = new List<IMartenOp>();
        var messages = new OutgoingMessages();

        foreach (var target in command.Targets!)
        {
            var adapter = adapters.ByName[target.Adapter!];
            var jobId = Guid.NewGuid();
            offer.Jobs.Add(new OfferJob(jobId, adapter.Id, adapter.Name));
            operations.Add(MartenOps.StartStream<Job>(jobId,
                new JobQueued(jobId, offer.Id, offer.ServiceId, adapter.Id, adapter.Name, target.Params, now, command.ExpireAt)));
            messages.Add(new DeliverJob(jobId, adapter.Id).ToDestination(Topology.QueueUri(adapter.Queue)));
        }
        operations.Insert(0, MartenOps.Insert(offer));

        var accepted = new OfferAccepted(offer.Id, offer.Jobs.Select(j => new AcceptedJob(j.JobId, j.Adapter, JobState.Queued)).ToList());
        return (accepted, operations, messages);
    }
}
