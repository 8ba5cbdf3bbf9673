using System.Security.Cryptography;
using System.Text.Json;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Offers;

/// <summary>
/// One target's fallback chain, kept on its offer (README "Fallback chains"). Step 0 is the target itself; step n is
/// <c>fallback[n-1]</c>. At most one step's job is live at a time: the next step's job is created when the current one
/// ends Failed or Expired, or is not Finished within <see cref="AfterSeconds"/> of being queued.
/// </summary>
public sealed class FallbackChain
{
    /// <summary>The target's index in the request.</summary>
    public int Target { get; set; }
    public int? AfterSeconds { get; set; }
    public List<ChainStep> Steps { get; set; } = [];
    /// <summary>When the chain ended, and how: Finished, Canceled, Exhausted (no step left), Expired (the offer's expiry passed), Deleted, Erased.</summary>
    public DateTimeOffset? EndedAt { get; set; }
    public string? Outcome { get; set; }
}

public sealed class ChainStep
{
    /// <summary>The adapter the request named (a failover may have taken the job: see the job's adapter).</summary>
    public string Adapter { get; set; } = "";
    /// <summary>
    /// The step's params, kept here only until its job is created (then they live in the job, where retention and erasure
    /// reach them) and dropped when the chain ends or its offer is erased or deleted.
    /// </summary>
    public JsonElement? Params { get; set; }
    /// <summary>The template the params were rendered from at accept, if any (recorded on the offer's job when the step starts).</summary>
    public TemplateUse? Template { get; set; }
    public Guid? JobId { get; set; }
    /// <summary>Why this step was started or skipped: Failed, Expired, NotFinishedInTime, or why its adapter could not be used.</summary>
    public string? Reason { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? SkippedAt { get; set; }
    /// <summary>
    /// When its timer ran out while its job was being sent: the job's cancel was requested then, and the next step starts
    /// only once the job ends (Canceled: it starts; Finished: the chain ends), so the recipient never gets both.
    /// </summary>
    public DateTimeOffset? TimedOutAt { get; set; }
}

/// <summary>A step's new job: its id, adapter, first events and when its own timer is due (null: no timer).</summary>
public sealed record StartedStep(int Step, Guid JobId, Adapter Adapter, IReadOnlyList<object> Events, DateTimeOffset? TimerAt);

/// <summary>
/// What a due step does: events on the previous job (its cancel when its time ran out, and the link forward), whether a
/// worker sending it must be told to abort, the new step's job, or when to look again (a scheduled job not yet queued).
/// <see cref="OfferChanged"/>: the chain on the offer changed and the offer must be stored.
/// </summary>
public sealed record StepDecision(IReadOnlyList<object> PreviousJobEvents, bool Broadcast, StartedStep? Started, DateTimeOffset? CheckAgainAt, bool OfferChanged)
{
    public static readonly StepDecision Nothing = new([], false, null, null, false);
}

/// <summary>
/// The fallback chain's decisions, pure functions of the offer, the job and the time, like <see cref="JobLifecycle"/>:
/// <code>
///   step n's job Finished                          --> chain ends Finished (the steps left are dropped)
///   step n's job Canceled (or cancel requested)    --> chain ends Canceled
///   step n's job Failed | Expired                  --> step n+1's job is created (JobFellBack, JobFallbackStarted)
///   step n's timer, job not started                --> the job is canceled and step n+1's job created in the same commit
///   step n's timer, job being sent (Started)       --> its cancel is requested (the worker aborts); step n+1 waits:
///     that job then Canceled                       --> step n+1's job is created (NotFinishedInTime)
///     that job then Finished                       --> chain ends Finished
///   step n+1's params not matching the schema of the failover it would go to --> step n+1 Skipped
///   step n's job gone (swept)                      --> chain ends Deleted
///   step n's timer, job Scheduled before send time --> look again at its send time + afterSeconds
///   no step left | offer expired                   --> chain ends Exhausted | Expired
///   offer deleted | erased                         --> chain ends Deleted | Erased (no new step)
/// </code>
/// A step starts at most once: its job id is derived from (previous job, step), and a step already started or skipped
/// makes any later message for it a no-op.
/// </summary>
public static class FallbackChains
{
    public const int MaxSteps = 5;
    public const int MaxAfterSeconds = 7 * 24 * 3600;

    /// <summary>The job id of step <paramref name="step"/> after <paramref name="previousJobId"/>: the same every time (a name-based UUID, RFC 9562 v5).</summary>
    public static Guid StepJobId(Guid previousJobId, int step)
    {
        var name = previousJobId.ToByteArray(bigEndian: true).Concat(BitConverter.GetBytes(step)).ToArray();
        var hash = SHA1.HashData([.. Namespace.ToByteArray(bigEndian: true), .. name]);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    private static readonly Guid Namespace = new("b6f0e4f3-2f7c-4c55-9b0a-5d1f3c2a7e11");

    /// <summary>
    /// Step <paramref name="message"/>.Step is due. <paramref name="job"/>: the previous step's job (null if its stream is
    /// gone); <paramref name="adapters"/>: the adapters by name, failovers included; <paramref name="health"/>: those adapters'
    /// (with a failover) health; <paramref name="paramsErrors"/>: by (step, adapter name), why a step's params do not match
    /// the params schema of a failover it may be routed to (they were checked at accept against its own adapter only).
    /// Changes the chain on the offer.
    /// </summary>
    public static StepDecision OnStepDue(
        Offer offer, StartFallbackStep message, Job? job, IReadOnlyDictionary<string, Adapter> adapters, DateTimeOffset now,
        IReadOnlyDictionary<Guid, AdapterHealth>? health = null, IReadOnlyDictionary<(int Step, string Adapter), string>? paramsErrors = null)
    {
        var chain = ChainOf(offer, message);
        if (chain is null || chain.EndedAt is not null) return StepDecision.Nothing;
        // The previous job's stream is gone (deleted by the retention sweep): no step can follow it.
        if (job is null) return End(chain, "Deleted", now);
        // Started or skipped already: a redelivery, or the timer and the job's end both fired.
        if (chain.Steps.Skip(message.Step).Any(s => s.JobId is not null || s.SkippedAt is not null)) return StepDecision.Nothing;
        if (offer.DeletedAt is not null) return End(chain, "Deleted", now);
        if (offer.ErasedAt is not null) return End(chain, "Erased", now);

        string reason;
        IReadOnlyList<object> cancel = [];
        var broadcast = false;
        var previous = chain.Steps[message.Step - 1];
        switch (job.State)
        {
            case JobState.Finished: return End(chain, "Finished", now);
            // Canceled after its timer asked the worker sending it to abort: now nothing of it can reach the recipient.
            case JobState.Canceled when previous.TimedOutAt is not null:
                reason = "NotFinishedInTime";
                break;
            case JobState.Canceled: return End(chain, "Canceled", now);
            case JobState.Failed or JobState.Expired:
                reason = job.State.ToString();
                break;
            // A cancel pending: the job's end decides (the service's cancel ends the chain, the timer's starts the next step).
            case var _ when job.CancellationRequested:
                return message.Timer || previous.TimedOutAt is not null ? StepDecision.Nothing : End(chain, "Canceled", now);
            // Not ended and this is not the timer: a stale message (an operator re-drove the job meanwhile).
            case var _ when !message.Timer: return StepDecision.Nothing;
            // The timer counts from the send time: a job still waiting for it is looked at again then.
            case JobState.Scheduled when job.SendAt is { } sendAt && sendAt > now:
                return new StepDecision([], false, null, sendAt.AddSeconds(chain.AfterSeconds ?? 0), false);
            // Out of time while being sent: the worker is told to abort; the next step waits for the job's end, so the
            // recipient never gets both and the chain never has two live jobs.
            case JobState.Started:
                if (JobLifecycle.OnCancel(job, "fallback", now) is not CancelDecision.Cancel requested) return StepDecision.Nothing;
                previous.TimedOutAt = now;
                return new StepDecision(requested.Events, requested.Broadcast, null, null, true);
            default:
                // Out of time before it started: canceled at once, and the next step created in the same commit.
                if (JobLifecycle.OnCancel(job, "fallback", now) is CancelDecision.Cancel c) (cancel, broadcast) = (c.Events, c.Broadcast);
                reason = "NotFinishedInTime";
                break;
        }

        if (offer.ExpireAt is { } expireAt && expireAt <= now) return End(chain, "Expired", now, cancel, broadcast);
        for (var step = message.Step; step < chain.Steps.Count; step++)
        {
            var next = chain.Steps[step];
            var route = adapters.TryGetValue(next.Adapter, out var adapter)
                ? Failover.Resolve(adapter, name => adapters.GetValueOrDefault(name), offer.ServiceId, AdapterHealth.FailingAsOf(health, adapter, now), now)
                : new Route(null, null, $"No adapter named '{next.Adapter}' exists any more.");
            if (route.Adapter is not { } target || !target.MayBeUsedBy(offer.ServiceId))
            {
                (next.SkippedAt, next.Reason, next.Params) = (now, route.Error ?? $"Adapter '{next.Adapter}' may no longer be used by this service.", null);
                continue;
            }
            if (paramsErrors?.GetValueOrDefault((step, target.Name)) is { } mismatch)
            {
                (next.SkippedAt, next.Reason, next.Params) = (now, $"Its params do not match the params schema of adapter '{target.Name}': {mismatch}", null);
                continue;
            }

            var jobId = StepJobId(message.JobId, step);
            var parameters = next.Params ?? Job.ErasedParams;
            (next.JobId, next.StartedAt, next.Reason, next.Params) = (jobId, now, reason, null);
            offer.Jobs.Add(new OfferJob(jobId, target.Id, target.Name, next.Template));
            var expiry = offer.ExpireAt ?? target.Policy.DefaultExpiry(now);
            List<object> events =
            [
                new JobQueued(jobId, offer.Id, offer.ServiceId, target.Id, target.Name, parameters, now, expiry),
                new JobFallbackStarted(jobId, message.JobId, step, reason, now),
            ];
            if (route.Reason is { } why) events.Add(new JobRoutedToFailover(jobId, adapter!.Name, target.Name, why, now));
            var timerAt = chain.AfterSeconds is { } after && step + 1 < chain.Steps.Count ? now.AddSeconds(after) : (DateTimeOffset?)null;
            return new StepDecision([.. cancel, new JobFellBack(message.JobId, jobId, step, reason, now)], broadcast,
                new StartedStep(step, jobId, target, events, timerAt), null, true);
        }
        return End(chain, "Exhausted", now, cancel, broadcast);
    }

    /// <summary>The chain whose step <c>message.Step - 1</c> is the message's job.</summary>
    public static FallbackChain? ChainOf(Offer offer, StartFallbackStep message) =>
        offer.Chains?.FirstOrDefault(c => message.Step >= 1 && message.Step <= c.Steps.Count && c.Steps[message.Step - 1].JobId == message.JobId);

    /// <summary>The offer is deleted or erased: no step starts any more, and the params kept for later steps are dropped.</summary>
    public static void Stop(Offer offer, string outcome, DateTimeOffset now)
    {
        foreach (var chain in offer.Chains ?? []) Stop(chain, outcome, now);
    }

    /// <summary>One chain ends (if it had not) and the params it kept for steps not started yet go.</summary>
    public static void Stop(FallbackChain chain, string outcome, DateTimeOffset now)
    {
        foreach (var step in chain.Steps) step.Params = null;
        if (chain.EndedAt is null) (chain.EndedAt, chain.Outcome) = (now, outcome);
    }

    private static StepDecision End(FallbackChain chain, string outcome, DateTimeOffset now, IReadOnlyList<object>? events = null, bool broadcast = false)
    {
        foreach (var step in chain.Steps) step.Params = null;
        (chain.EndedAt, chain.Outcome) = (now, outcome);
        return new StepDecision(events ?? [], broadcast, null, null, true);
    }
}
