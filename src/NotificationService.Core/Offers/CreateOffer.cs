using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Limits;
using NotificationService.Core.Templates;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Offers;

// Nullable so that a missing field is a 422 naming it, not a 400; [Required] keeps it required in the OpenAPI document.
public sealed record CreateOffer(
    [property: Required, Description("One job per target, at most the service's jobsPerOffer limit.")] List<OfferTarget>? Targets,
    [property: Description("When the jobs expire if not delivered by then (default: the adapter's policy).")] DateTimeOffset? ExpireAt,
    [property: Description("Send later: the jobs wait as Scheduled until this time.")] DateTimeOffset? SendAt,
    [property: Description("Free-form string pairs kept with the offer (at most 50), e.g. your own ids.")] Dictionary<string, string>? Metadata,
    [property: Description("Send this offer's job status callbacks to this absolute http(s) URL instead of the service's registered callback URLs: one POST per event, sent with the service's oldest enabled callback subscribed to that event (its secret signs it; nothing is sent for an event no enabled callback subscribes to); needs at least one registered callback.")] string? CallbackUrl = null);

public sealed record OfferTarget(
    [property: Required, Description("The adapter's name (see `GET /v1/adapters`).")] string? Adapter,
    [property: Description("An object that must match the adapter's params schema (see `GET /v1/adapters`). Required unless `template` is given (exactly one of the two).")] JsonElement Params,
    [property: Description("Instead of `params`: the key of a template (yours, or a shared one granted to you) of the adapter's type, rendered with `data` now; the job gets the rendered params.")] string? Template = null,
    [property: Description("With `template`: the locale to render; falls back to its language ('de-AT' -> 'de'), then the template's default.")] string? Locale = null,
    [property: Description("With `template`: the template's variables (a JSON object). Counts against maxParamsBytes like params.")] JsonElement? Data = null);

public sealed record AcceptedJob(Guid Id, string Adapter, JobState State);

/// <summary>202: the offer and its jobs are stored and their delivery is on its way through the outbox.</summary>
public sealed record OfferAccepted(Guid Id, IReadOnlyList<AcceptedJob> Jobs) : AcceptedResource($"/v1/offers/{Id}");

/// <summary>
/// Everything the request refers to, loaded once: its adapters, the earlier request with the same key, the service's
/// limits; and the new offer's id, chosen here because its pending-jobs reservation is made under it before it is stored.
/// </summary>
public sealed record OfferContext(
    IReadOnlyDictionary<string, Adapter> Adapters, string? IdempotencyKey, string RequestHash, IdempotentRequest? Earlier, EffectiveLimits Limits,
    Guid OfferId, bool HasCallbacks = false, IReadOnlyDictionary<string, Template>? Templates = null);

public static class CreateOfferEndpoint
{
    public const int MaxMetadataEntries = 50;

    public static async Task<OfferContext> LoadAsync(
        CreateOffer command, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, ClaimsPrincipal user, IQuerySession session, AccessCache cache,
        HttpContext httpContext, LimitDefaults defaults, IRegisteredCallbacks registeredCallbacks)
    {
        var limits = httpContext.LimitsOf(defaults);
        var names = (command.Targets ?? []).Select(t => t?.Adapter).OfType<string>().Distinct().ToArray();
        var adapters = new Dictionary<string, Adapter>();
        foreach (var name in names)
            if (cache.Adapters.TryGet(name, out var adapter)) adapters[name] = adapter;
        var missing = names.Where(n => !adapters.ContainsKey(n)).ToArray();
        if (missing.Length > 0)
            foreach (var adapter in await session.Query<Adapter>().Where(a => missing.Contains(a.Name)).ToListAsync())
                cache.Adapters.Keep(adapter.Name, adapters[adapter.Name] = adapter);
        // A callbackUrl override needs a registered callback (its events and secret); only then is it looked up.
        var hasCallbacks = command.CallbackUrl is not null && await registeredCallbacks.AnyAsync(session, user.ServiceId());
        // Every template the targets name, the service's own and those shared with it, in one query.
        var templates = await TemplateInput.LoadVisibleAsync(session, user.ServiceId(),
            (command.Targets ?? []).Select(t => t?.Template).OfType<string>().Distinct().ToList());
        if (string.IsNullOrEmpty(idempotencyKey)) return new OfferContext(adapters, null, "", null, limits, Guid.NewGuid(), hasCallbacks, templates);

        // Only a request that may be retried needs its fingerprint (a retry with another body is refused).
        var hash = IdempotentRequest.HashOf(command);
        var earlier = await IdempotentRequest.FindAsync(session, user.ServiceId(), idempotencyKey);
        return new OfferContext(adapters, idempotencyKey, hash, earlier, limits, Guid.NewGuid(), hasCallbacks, templates);
    }

    /// <summary>
    /// Checks the offer, then takes one of the service's offer tokens and reserves its jobs against the pending-jobs
    /// quota: only an offer that would be stored costs a token, and a retry answered from its Idempotency-Key none.
    /// </summary>
    public static async Task<ProblemDetails> ValidateAsync(
        CreateOffer command, OfferContext context, ClaimsPrincipal user, JsonSchemas schemas, TimeProvider clock, HttpContext httpContext, LimitCounters counters)
    {
        if (context.Earlier is { } earlier)
            return earlier.RequestHash == context.RequestHash
                ? WolverineContinue.NoProblems
                : Problems.Invalid(("Idempotency-Key", "This key was already used for a different request."));
        if (context.IdempotencyKey is { Length: > 200 }) return Problems.Invalid(("Idempotency-Key", "At most 200 characters."));

        var now = clock.GetUtcNow();
        var limits = context.Limits;
        var errors = new List<(string, string)>();
        if (command.Targets is not { Count: > 0 }) errors.Add(("targets", "At least one target is required."));
        else if (command.Targets.Count > limits.JobsPerOffer) errors.Add(("targets", $"At most {limits.JobsPerOffer} targets per offer (this service's jobsPerOffer limit)."));
        if (command.ExpireAt is { } expireAt && expireAt <= now) errors.Add(("expireAt", "Must be in the future."));
        if (command.ExpireAt is { } until && command.SendAt is { } sendAt && until <= sendAt) errors.Add(("expireAt", "Must be after sendAt."));
        if (command.Metadata is { Count: > MaxMetadataEntries }) errors.Add(("metadata", $"At most {MaxMetadataEntries} entries."));
        if (command.CallbackUrl is { } callbackUrl)
        {
            if (CallbackUrls.Check(callbackUrl) is { } urlError) errors.Add(("callbackUrl", urlError));
            else if (!context.HasCallbacks) errors.Add(("callbackUrl", "Register a callback first (POST /v1/callbacks): the override uses its events and secret."));
        }

        for (var i = 0; command.Targets is { } all && all.Count <= limits.JobsPerOffer && i < all.Count; i++)
        {
            var target = command.Targets[i];
            errors.AddRange(await CheckTargetAsync(target?.Adapter, target?.Params ?? default, target?.Template, target?.Locale, target?.Data ?? default,
                $"targets[{i}]", context, user, schemas));
        }
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());

        var (gate, retryAfter) = await counters.EnterAsync(user.ServiceId(), context.OfferId, command.Targets!.Count, limits, httpContext.RequestAborted);
        switch (gate)
        {
            case LimitCounters.Gate.OverRate:
                return LimitProblems.TooMany(httpContext, "offersPerSecond", limits.OffersPerSecond, retryAfter,
                    $"This service may post {limits.OffersPerSecond} offers per second (bursts of {limits.Burst}). Nothing was stored; retry after {retryAfter} s.");
            case LimitCounters.Gate.OverQuota:
                return PendingJobsReservations.Problem(httpContext, limits.PendingJobs);
            default:
                // Given back if the offer is not stored after all.
                PendingJobsReservations.Reserved(httpContext, context.OfferId);
                return WolverineContinue.NoProblems;
        }
    }

    /// <summary>
    /// One target's checks (also a fallback step's): its adapter is there, usable and active; it has exactly one of params
    /// and template; params are within maxParamsBytes and match the adapter's params schema, or the template is one this
    /// service sees, of the adapter's type, and renders with data into params that do (errors keyed under <paramref name="path"/>).
    /// </summary>
    public static async Task<IReadOnlyList<(string Path, string Message)>> CheckTargetAsync(
        string? adapterName, JsonElement parameters, string? templateKey, string? locale, JsonElement data, string path,
        OfferContext context, ClaimsPrincipal user, JsonSchemas schemas)
    {
        if (adapterName is not { } name) return [($"{path}.adapter", "is required")];
        if (!context.Adapters.TryGetValue(name, out var adapter) || !adapter.MayBeUsedBy(user.ServiceId()))
            return [($"{path}.adapter", $"No adapter named '{name}' is available to this service.")];
        if (adapter.Status != AdapterStatus.Active) return [($"{path}.adapter", $"Adapter '{name}' is blocked.")];
        var hasParams = parameters.ValueKind != JsonValueKind.Undefined;
        if (templateKey is null)
        {
            if (!hasParams) return [($"{path}.params", "is required (or give a template)")];
            if (locale is not null || data.ValueKind != JsonValueKind.Undefined) return [($"{path}.template", "is required with locale and data")];
            if (ParamsTooLarge(parameters, context.Limits) is { } tooLarge) return [($"{path}.params", tooLarge)];
            return await schemas.ValidateAsync(adapter.ParamsSchema, parameters, $"{path}.params");
        }
        if (hasParams) return [(path, "Give either params or template, not both.")];
        if (context.Templates?.GetValueOrDefault(templateKey) is not { } template)
            return [($"{path}.template", $"No template '{templateKey}' is available to this service.")];
        if (!string.Equals(template.Type, adapter.Type, StringComparison.OrdinalIgnoreCase))
            return [($"{path}.template", $"Template '{templateKey}' renders {template.Type} params; adapter '{name}' is of type {adapter.Type}.")];
        if (locale is not null && TemplateInput.Normalize(locale) is null) return [($"{path}.locale", "Not a locale: use a tag like 'en' or 'de-AT'.")];
        if (ParamsTooLarge(data, context.Limits) is { } dataTooLarge) return [($"{path}.data", dataTooLarge)];
        return (await TemplateRendering.RenderCheckedAsync(template, locale, data, path, adapter.ParamsSchema, context.Limits, schemas)).Errors;
    }

    /// <summary>
    /// The params a checked target's job gets: its own, or its template rendered (again: rendering is deterministic and
    /// takes microseconds, so Post stays a pure function of the request) with the version and locale used.
    /// </summary>
    public static (JsonElement Params, TemplateUse? Template) ParamsOf(JsonElement parameters, string? templateKey, string? locale, JsonElement data, OfferContext context)
    {
        if (templateKey is null) return (parameters, null);
        var template = context.Templates![templateKey];
        var rendered = TemplateRendering.Render(template, locale, data, "");
        return (rendered.Params, new TemplateUse(template.Key, template.Version, rendered.Locale, template.IsShared));
    }

    /// <summary>A target's params over the service's maxParamsBytes (counted as the UTF-8 bytes of their JSON), or null.</summary>
    public static string? ParamsTooLarge(JsonElement parameters, EffectiveLimits limits) =>
        parameters.ValueKind != JsonValueKind.Undefined && System.Text.Encoding.UTF8.GetByteCount(parameters.GetRawText()) is var size && size > limits.MaxParamsBytes
            ? $"At most {limits.MaxParamsBytes} bytes of JSON (this service's maxParamsBytes limit); these are {size}."
            : null;

    /// <summary>
    /// The offer, one job stream per target and one message per job commit in one transaction: a due job's delivery goes
    /// through the durable outbox to its adapter's queue; a scheduled one waits as a durable scheduled message.
    /// A retried request with the same Idempotency-Key returns the first response and writes nothing.
    /// </summary>
    [WolverinePost("/v1/offers", OperationId = "createOffer")]
    [Tags("Offers")]
    [EndpointSummary("Send a notification")]
    [EndpointDescription("Stores the offer and one job per target in one transaction and hands the jobs to their adapters' queues (or schedules them for `sendAt`). Each target's `params` are checked against its adapter's params schema (see `GET /v1/adapters`); a target may instead name a `template` with `locale` and `data`, rendered now into the params its job gets (see `/v1/templates`). Send an `Idempotency-Key` header to make a retry safe: the same key and body return the first answer and store nothing.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(429, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (OfferAccepted, IEnumerable<IMartenOp>, OutgoingMessages) Post(
        CreateOffer command, OfferContext context, ClaimsPrincipal user, TimeProvider clock, FairShare fairShare)
    {
        if (context.Earlier is { } earlier) return (new OfferAccepted(earlier.OfferId, earlier.Jobs), [], []);

        var now = clock.GetUtcNow();
        var scheduled = command.SendAt is { } sendAt && sendAt > now;
        var offer = new Offer
        {
            Id = context.OfferId, ServiceId = user.ServiceId(), CreatedAt = now,
            ExpireAt = command.ExpireAt, SendAt = command.SendAt, Metadata = command.Metadata, CallbackUrl = command.CallbackUrl,
        };
        var operations = new List<IMartenOp> { MartenOps.Insert(offer) };
        var messages = new OutgoingMessages();

        foreach (var target in command.Targets!)
        {
            var adapter = context.Adapters[target.Adapter!];
            var jobId = Guid.NewGuid();
            var expireAt = command.ExpireAt ?? adapter.Policy.DefaultExpiry(command.SendAt is { } s && s > now ? s : now);
            var (parameters, template) = ParamsOf(target.Params, target.Template, target.Locale, target.Data ?? default, context);
            offer.Jobs.Add(new OfferJob(jobId, adapter.Id, adapter.Name, template));
            if (scheduled)
            {
                operations.Add(MartenOps.StartStream<Job>(jobId,
                    new JobScheduled(jobId, offer.Id, offer.ServiceId, adapter.Id, adapter.Name, parameters, now, command.SendAt!.Value, expireAt)));
                messages.Add(new QueueScheduledJob(jobId, adapter.Id, command.SendAt.Value).ScheduledAt(command.SendAt.Value));
            }
            else
            {
                operations.Add(MartenOps.StartStream<Job>(jobId,
                    new JobQueued(jobId, offer.Id, offer.ServiceId, adapter.Id, adapter.Name, parameters, now, expireAt)));
                messages.Add(fairShare.Deliver(jobId, offer.ServiceId, adapter));
            }
        }

        var state = scheduled ? JobState.Scheduled : JobState.Queued;
        var jobs = offer.Jobs.Select(j => new AcceptedJob(j.JobId, j.Adapter, state)).ToList();
        if (context.IdempotencyKey is { Length: > 0 } key)
            operations.Add(MartenOps.Insert(new IdempotentRequest
            {
                Id = IdempotentRequest.IdFor(offer.ServiceId, key), RequestHash = context.RequestHash, OfferId = offer.Id, Jobs = jobs, CreatedAt = now,
            }));
        // Its jobs are stored with it: from the commit on they count as themselves, not as a reservation.
        operations.Add(new LimitsStorage.ClaimReservation(offer.Id));
        return (new OfferAccepted(offer.Id, jobs), operations, messages);
    }
}
