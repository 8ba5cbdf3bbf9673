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
using NotificationService.Hosting;
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
    [property: Description("With `template`: the template's variables (a JSON object). Counts against maxParamsBytes like params.")] JsonElement? Data = null,
    [property: Description("Steps tried in order when this target's job ends Failed or Expired, or is not Finished within `fallbackAfterSeconds` (at most 5); each is checked like a target.")] List<FallbackStep>? Fallback = null,
    [property: Description("Fall back to the next step when a step's job is not Finished this many seconds (1 to 604800) after it was queued (for a scheduled offer: after its send time); the job is canceled first.")] int? FallbackAfterSeconds = null);

/// <summary>One step of a target's fallback chain: an adapter and its params, or a template rendered at accept like a target's.</summary>
public sealed record FallbackStep(
    [property: Required, Description("The adapter's name (see `GET /v1/adapters`).")] string? Adapter,
    [property: Description("An object that must match the adapter's params schema. Required unless `template` is given (exactly one of the two).")] JsonElement Params,
    // JsonElement? rather than "JsonElement Data = default": the OpenAPI schema exporter cannot write an undefined JsonElement as a default value.
    [property: Description("Instead of `params`: a template, rendered now like a target's.")] string? Template = null,
    [property: Description("With `template`: the locale to render.")] string? Locale = null,
    [property: Description("With `template`: the template's variables.")] JsonElement? Data = null);

public sealed record AcceptedJob(Guid Id, string Adapter, JobState State);

/// <summary>202: the offer and its jobs are stored and their delivery is on its way through the outbox.</summary>
public sealed record OfferAccepted(Guid Id, IReadOnlyList<AcceptedJob> Jobs) : AcceptedResource($"/v1/offers/{Id}");

/// <summary>
/// Everything the request refers to, loaded once: its adapters, the earlier request with the same key, the service's
/// limits; and the new offer's id, chosen here because its pending-jobs reservation is made under it before it is stored.
/// </summary>
public sealed record OfferContext(
    IReadOnlyDictionary<string, Adapter> Adapters, string? IdempotencyKey, string RequestHash, IdempotentRequest? Earlier, EffectiveLimits Limits,
    Guid OfferId, bool HasCallbacks = false, IReadOnlyDictionary<Guid, AdapterHealth>? Health = null,
    IReadOnlyDictionary<string, Template>? Templates = null)
{
    /// <summary>
    /// Each templated target's (or step's) params as Validate rendered and checked them, by its path ("targets[0]",
    /// "targets[0].fallback[1]"): Post uses these rather than rendering again, so a template is rendered once per
    /// request and a job gets exactly what was checked (a filter like <c>"now" | date</c> renders differently each time).
    /// </summary>
    public Dictionary<string, TemplateRendering.Result> Rendered { get; } = [];
}

public static class CreateOfferEndpoint
{
    public const int MaxMetadataEntries = 50;

    public static async Task<OfferContext> LoadAsync(
        CreateOffer command, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, ClaimsPrincipal user, IQuerySession session, AccessCache cache,
        HttpContext httpContext, LimitDefaults defaults, IRegisteredCallbacks registeredCallbacks)
    {
        var limits = httpContext.LimitsOf(defaults);
        var names = (command.Targets ?? []).SelectMany(t => t is null ? [] : new[] { t.Adapter }.Concat(t.Fallback?.Select(f => f?.Adapter) ?? []))
            .OfType<string>().Distinct().ToArray();
        var adapters = new Dictionary<string, Adapter>();
        await AddAdaptersAsync(names, adapters, cache, session);
        // The failover adapters of those that have one, for the ones that are blocked or failing.
        await AddAdaptersAsync(adapters.Values.Select(a => a.Policy.FailoverAdapter).OfType<string>().Distinct().ToArray(), adapters, cache, session);
        // Failover on failures: only adapters that have a failover need their health (one query, none for most offers).
        var watched = adapters.Values.Where(a => a.Policy.FailoverAdapter is not null).Select(a => a.Id).ToArray();
        var health = watched.Length == 0 ? null : (await session.LoadManyAsync<AdapterHealth>(watched)).ToDictionary(h => h.Id);
        // A callbackUrl override needs a registered callback (its events and secret); only then is it looked up.
        var hasCallbacks = command.CallbackUrl is not null && await registeredCallbacks.AnyAsync(session, user.ServiceId());
        // Every template the targets and their steps name, the service's own and those shared with it, in one query.
        var templates = await TemplateInput.LoadVisibleAsync(session, user.ServiceId(),
            (command.Targets ?? []).SelectMany(t => t is null ? [] : new[] { t.Template }.Concat(t.Fallback?.Select(f => f?.Template) ?? []))
                .OfType<string>().Distinct().ToList());
        // Offer and job ids are time-ordered (UUIDv7), so new keys share one hot leaf of each B-tree keyed by them, not a
        // random page of a million-row index that must be read in and, after every checkpoint, logged whole to the WAL
        // (five such indexes per job; bench/README.md, "Time-ordered ids"). Their 74 random bits keep them unguessable;
        // they do tell their creation time to whoever sees them, recipients included (email Message-ID, webhook header):
        // about when the message itself arrived.
        if (string.IsNullOrEmpty(idempotencyKey)) return new OfferContext(adapters, null, "", null, limits, Guid.CreateVersion7(), hasCallbacks, health, templates);

        // Only a request that may be retried needs its fingerprint (a retry with another body is refused).
        var hash = IdempotentRequest.HashOf(command);
        var earlier = await IdempotentRequest.FindAsync(session, user.ServiceId(), idempotencyKey);
        return new OfferContext(adapters, idempotencyKey, hash, earlier, limits, Guid.CreateVersion7(), hasCallbacks, health, templates);
    }

    private static async Task AddAdaptersAsync(string[] names, Dictionary<string, Adapter> adapters, AccessCache cache, IQuerySession session)
    {
        foreach (var name in names)
            if (!adapters.ContainsKey(name) && cache.Adapters.TryGet(name, out var adapter)) adapters[name] = adapter;
        var missing = names.Where(n => !adapters.ContainsKey(n)).ToArray();
        if (missing.Length > 0)
            foreach (var adapter in await session.Query<Adapter>().Where(a => missing.Contains(a.Name)).ToListAsync())
                cache.Adapters.Keep(adapter.Name, adapters[adapter.Name] = adapter);
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

        // Every job the offer may create counts against jobsPerOffer: its targets and their fallback steps.
        var jobs = command.Targets?.Sum(t => 1 + (t?.Fallback?.Count ?? 0)) ?? 0;
        if (command.Targets is { Count: > 0 } && command.Targets.Count <= limits.JobsPerOffer && jobs > limits.JobsPerOffer)
            errors.Add(("targets", $"At most {limits.JobsPerOffer} jobs per offer, fallback steps included (this service's jobsPerOffer limit); these are {jobs}."));
        for (var i = 0; command.Targets is { } all && jobs <= limits.JobsPerOffer && i < all.Count; i++)
        {
            var target = command.Targets[i];
            var path = $"targets[{i}]";
            if (target is null) { errors.Add((path, "is required")); continue; }
            await CheckTargetAsync(target.Adapter, target.Params, target.Template, target.Locale, target.Data ?? default, path, context, user.ServiceId(), schemas, clock.GetUtcNow(), errors);
            if (target.FallbackAfterSeconds is { } after && (after < 1 || after > FallbackChains.MaxAfterSeconds))
                errors.Add(($"{path}.fallbackAfterSeconds", $"From 1 to {FallbackChains.MaxAfterSeconds} seconds (7 days)."));
            if (target.Fallback is not { Count: > 0 } steps)
            {
                if (target.FallbackAfterSeconds is not null) errors.Add(($"{path}.fallbackAfterSeconds", "Only with a fallback step to fall back to."));
                continue;
            }
            if (steps.Count > FallbackChains.MaxSteps) { errors.Add(($"{path}.fallback", $"At most {FallbackChains.MaxSteps} steps.")); continue; }
            for (var j = 0; j < steps.Count; j++)
            {
                var step = steps[j];
                var stepPath = $"{path}.fallback[{j}]";
                if (step is null) { errors.Add((stepPath, "is required")); continue; }
                await CheckTargetAsync(step.Adapter, step.Params, step.Template, step.Locale, step.Data ?? default, stepPath, context, user.ServiceId(), schemas, clock.GetUtcNow(), errors);
            }
        }
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());

        var (gate, retryAfter, admission) = await counters.EnterAsync(user.ServiceId(), context.OfferId, command.Targets!.Count, limits, httpContext.RequestAborted);
        switch (gate)
        {
            case LimitCounters.Gate.OverRate:
                return LimitProblems.TooMany(httpContext, "offersPerSecond", limits.OffersPerSecond, retryAfter,
                    $"This service may post {limits.OffersPerSecond} offers per second (bursts of {limits.Burst}). Nothing was stored; retry after {retryAfter} s.");
            case LimitCounters.Gate.OverQuota:
                return PendingJobsReservations.Problem(httpContext, limits.PendingJobs);
            default:
                // Given back if the offer is not stored after all.
                PendingJobsReservations.Reserved(httpContext, admission!);
                // One offer makes many jobs, so the request's span names the offer; each job's spans name their job.
                Telemetry.TagRequest(httpContext, Telemetry.OfferIdTag, context.OfferId);
                return WolverineContinue.NoProblems;
        }
    }

    /// <summary>
    /// One target or fallback step (at <paramref name="path"/>): its adapter exists, may be used by the service and is
    /// active, or is blocked with a usable failover (README "Failover between adapters"); then its params or template are
    /// checked against the adapter the job will go to (<see cref="CheckParamsAsync"/>). Returns that adapter, or null
    /// with the errors added.
    /// </summary>
    public static async Task<Adapter?> CheckTargetAsync(
        string? name, JsonElement parameters, string? templateKey, string? locale, JsonElement data, string path,
        OfferContext context, Guid serviceId, JsonSchemas schemas, DateTimeOffset now, List<(string, string)> errors)
    {
        if (name is null) { errors.Add(($"{path}.adapter", "is required")); return null; }
        if (!context.Adapters.TryGetValue(name, out var adapter) || !adapter.MayBeUsedBy(serviceId))
        {
            errors.Add(($"{path}.adapter", $"No adapter named '{name}' is available to this service.")); return null;
        }
        var route = RouteOf(adapter, context, serviceId, now);
        if (route.Adapter is not { } routed) { errors.Add(($"{path}.adapter", route.Error!)); return null; }
        var found = await CheckParamsAsync(routed, parameters, templateKey, locale, data, path, context, schemas);
        errors.AddRange(found);
        return found.Count == 0 ? routed : null;
    }

    /// <summary>
    /// It has exactly one of params and template; params are within maxParamsBytes and match the adapter's params schema,
    /// or the template is one this service sees, of the adapter's type, and renders with data into params that do.
    /// </summary>
    private static async Task<IReadOnlyList<(string Path, string Message)>> CheckParamsAsync(
        Adapter adapter, JsonElement parameters, string? templateKey, string? locale, JsonElement data, string path, OfferContext context, JsonSchemas schemas)
    {
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
            return [($"{path}.template", $"Template '{templateKey}' renders {template.Type} params; adapter '{adapter.Name}' is of type {adapter.Type}.")];
        if (locale is not null && TemplateInput.Normalize(locale) is null) return [($"{path}.locale", "Not a locale: use a tag like 'en' or 'de-AT'.")];
        if (ParamsTooLarge(data, context.Limits) is { } dataTooLarge) return [($"{path}.data", dataTooLarge)];
        var rendered = await TemplateRendering.RenderCheckedAsync(template, locale, data, path, adapter.ParamsSchema, context.Limits, schemas);
        if (rendered.Ok) context.Rendered[path] = rendered;
        return rendered.Errors;
    }

    /// <summary>
    /// The params a checked target's (or step's, at <paramref name="path"/>) job gets: its own, or what its template
    /// rendered to in Validate (<see cref="OfferContext.Rendered"/>), with the template, version and locale used.
    /// </summary>
    public static (JsonElement Params, TemplateUse? Template) ParamsOf(JsonElement parameters, string? templateKey, string path, OfferContext context)
    {
        if (templateKey is null) return (parameters, null);
        var template = context.Templates![templateKey];
        var rendered = context.Rendered[path];
        return (rendered.Params, new TemplateUse(template.Key, template.Version, rendered.Locale, template.IsShared, template.Id));
    }

    /// <summary>Where a new job for <paramref name="adapter"/> goes now: to it, or to its failover.</summary>
    public static Route RouteOf(Adapter adapter, OfferContext context, Guid serviceId, DateTimeOffset now) =>
        Failover.Resolve(adapter, name => context.Adapters.GetValueOrDefault(name), serviceId, AdapterHealth.FailingAsOf(context.Health, adapter, now), now);

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
    public static (OfferAccepted, IEnumerable<IMartenOp>, SendWithoutWaiting) Post(
        CreateOffer command, OfferContext context, ClaimsPrincipal user, TimeProvider clock, FairShare fairShare)
    {
        if (context.Earlier is { } earlier) return (new OfferAccepted(earlier.OfferId, earlier.Jobs), [], new SendWithoutWaiting([]));

        var now = clock.GetUtcNow();
        var scheduled = command.SendAt is { } sendAt && sendAt > now;
        var offer = new Offer
        {
            Id = context.OfferId, ServiceId = user.ServiceId(), CreatedAt = now,
            ExpireAt = command.ExpireAt, SendAt = command.SendAt, Metadata = command.Metadata, CallbackUrl = command.CallbackUrl,
        };
        var operations = new List<IMartenOp> { MartenOps.Insert(offer) };
        var messages = new OutgoingMessages();

        for (var i = 0; i < command.Targets!.Count; i++)
        {
            var target = command.Targets[i];
            var requested = context.Adapters[target.Adapter!];
            var route = RouteOf(requested, context, offer.ServiceId, now);
            var adapter = route.Adapter!;
            var jobId = Guid.CreateVersion7(); // time-ordered, as the offer's (above)
            var queuedAt = command.SendAt is { } s && s > now ? s : now;
            var expireAt = command.ExpireAt ?? adapter.Policy.DefaultExpiry(queuedAt);
            var (parameters, template) = ParamsOf(target.Params, target.Template, $"targets[{i}]", context);
            offer.Jobs.Add(new OfferJob(jobId, adapter.Id, adapter.Name, template));
            object first;
            if (scheduled)
            {
                first = new JobScheduled(jobId, offer.Id, offer.ServiceId, adapter.Id, adapter.Name, parameters, now, command.SendAt!.Value, expireAt);
                messages.Add(new QueueScheduledJob(jobId, adapter.Id, command.SendAt.Value).ScheduledAt(command.SendAt.Value));
            }
            else
            {
                first = new JobQueued(jobId, offer.Id, offer.ServiceId, adapter.Id, adapter.Name, parameters, now, expireAt);
                messages.Add(fairShare.Deliver(jobId, offer.ServiceId, adapter));
            }
            operations.Add(route.Reason is { } reason
                ? new StartJobStream(jobId, [first, new JobRoutedToFailover(jobId, requested.Name, adapter.Name, reason, now)])
                : new StartJobStream(jobId, [first]));

            if (target.Fallback is not { Count: > 0 } fallback) continue;
            (offer.Chains ??= []).Add(new FallbackChain
            {
                Target = i, AfterSeconds = target.FallbackAfterSeconds,
                Steps = [new ChainStep { Adapter = requested.Name, JobId = jobId, StartedAt = now }, .. fallback.Select((f, j) => StepOf(f, $"targets[{i}].fallback[{j}]", context))],
            });
            // The first step's timer, stored with its job: a durable scheduled message, so it survives a core restart.
            if (target.FallbackAfterSeconds is { } after)
                messages.Add(new StartFallbackStep(offer.Id, jobId, 1, Timer: true).ScheduledAt(queuedAt.AddSeconds(after)));
        }

        var state = scheduled ? JobState.Scheduled : JobState.Queued;
        var jobs = offer.Jobs.Select(j => new AcceptedJob(j.JobId, j.Adapter, state)).ToList();
        if (context.IdempotencyKey is { Length: > 0 } key)
            operations.Add(MartenOps.Insert(new IdempotentRequest
            {
                Id = IdempotentRequest.IdFor(offer.ServiceId, key), RequestHash = context.RequestHash, OfferId = offer.Id, Jobs = jobs, CreatedAt = now,
            }));
        // In the transaction's outbox like any cascade, but the client does not wait for the broker.
        return (new OfferAccepted(offer.Id, jobs), operations, new SendWithoutWaiting(messages));
    }

    /// <summary>A fallback step as the offer keeps it until it starts: rendered now, so a later template edit never changes it.</summary>
    private static ChainStep StepOf(FallbackStep step, string path, OfferContext context)
    {
        var (parameters, template) = ParamsOf(step.Params, step.Template, path, context);
        return new ChainStep { Adapter = step.Adapter!, Params = parameters.Clone(), Template = template };
    }
}
