using System.Reflection;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts;
using NotificationService.Core.Auth;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Operations;

public sealed record DeadLetterSkipped(Guid Id, string Reason);

/// <param name="Matched">dead letters the selection matches; a dry run previews at most 1,000 (<see cref="Remaining"/> more)</param>
/// <param name="Replayed">handed back (or, in a dry run, would be); 0 when a replay by filter was started as an operation</param>
public sealed record DeadLettersReplayed(bool DryRun, int Matched, int Replayed, int Remaining, IReadOnlyList<Guid> SampleIds, IReadOnlyList<DeadLetterSkipped> Skipped, Guid? OperationId)
    : IHttpAware
{
    /// <summary>Set when the replay runs as an operation (by filter): the answer is 202 with its address.</summary>
    [JsonIgnore] public string? Location { get; init; }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => OperationAnswer.Populate<DeadLettersReplayed>(builder);
    void IHttpAware.Apply(HttpContext context) => OperationAnswer.Apply(context, Location);
}

/// <summary>The selected dead letters and, for the jobs' ones, their jobs (locked for writing unless a dry run) and adapters.</summary>
public sealed record ReplayPlan(SelectedDeadLetters Selected, IReadOnlyDictionary<Guid, Job> Jobs, IReadOnlyDictionary<Guid, Adapter> Adapters)
{
    public static async Task<ReplayPlan> LoadAsync(DeadLetterSelection? request, IDocumentSession session, CancellationToken ct)
    {
        var selected = await SelectedDeadLetters.LoadAsync(request, session, ct);
        // An operation over the whole set decides batch by batch; the request only starts it.
        if (request is { RunsAsOperation: true }) return new(selected, new Dictionary<Guid, Job>(), new Dictionary<Guid, Adapter>());
        var (jobs, adapters) = await LoadJobsAsync(selected.Letters, request is { DryRun: true }, session, ct);
        return new(selected, jobs, adapters);
    }

    /// <summary>The jobs of these dead letters (locked for writing unless <paramref name="readOnly"/>) and their adapters.</summary>
    public static async Task<(Dictionary<Guid, Job> Jobs, Dictionary<Guid, Adapter> Adapters)> LoadJobsAsync(
        IReadOnlyList<DeadLetter> letters, bool readOnly, IDocumentSession session, CancellationToken ct)
    {
        var jobIds = letters.Where(l => l.Store == "workers" && l.JobId is not null).Select(l => l.JobId!.Value).Distinct().ToList();
        var jobs = new Dictionary<Guid, Job>();
        if (readOnly) foreach (var job in await session.LoadManyAsync<Job>(ct, jobIds)) jobs[job.Id] = job;
        else
            // Locked in id order (as every multi-job write here), so two replays of overlapping sets cannot deadlock.
            foreach (var id in jobIds.Order())
                if ((await session.Events.FetchForExclusiveWriting<Job>(id, ct)).Aggregate is { } job) jobs[id] = job;
        var adapters = (await session.LoadManyAsync<Adapter>(ct, jobs.Values.Select(j => j.AdapterId).Distinct())).ToDictionary(a => a.Id);
        return (jobs, adapters);
    }
}

/// <summary>What a replay does with some dead letters: the jobs' events and messages, the rows to delete or hand back, and the ones it skips.</summary>
public sealed record ReplayDecision(List<IMartenOp> Ops, OutgoingMessages Messages, List<DeadLetter> Delete, List<DeadLetter> MarkReplayable, List<DeadLetterSkipped> Skipped)
{
    public int Replayed => Delete.Count + MarkReplayable.Count;

    /// <summary>
    /// The one rule of a replay, for a request's letters and an operation's batch alike: the core's own go back to their
    /// queue; a job's re-drives its job when it is Failed, its params kept and its adapter still there.
    /// </summary>
    public static ReplayDecision Decide(IReadOnlyList<DeadLetter> letters, IReadOnlyDictionary<Guid, Job> jobs, IReadOnlyDictionary<Guid, Adapter> adapters,
        string by, DateTimeOffset now, FairShare fairShare)
    {
        var decision = new ReplayDecision([], new OutgoingMessages(), [], [], []);
        var (delete, markReplayable, skipped) = (decision.Delete, decision.MarkReplayable, decision.Skipped);
        var redriven = new HashSet<Guid>();
        foreach (var letter in letters)
        {
            if (letter.Store == "core") { markReplayable.Add(letter); continue; }
            if (letter.Job is not { } message) { skipped.Add(new(letter.Id, "Not a job's message: only jobs' messages are replayed from the workers' store; discard it instead.")); continue; }
            if (!jobs.TryGetValue(message.JobId, out var job)) { skipped.Add(new(letter.Id, $"Job {message.JobId} no longer exists.")); continue; }
            if (!adapters.TryGetValue(job.AdapterId, out var adapter)) { skipped.Add(new(letter.Id, "The job's adapter was deleted.")); continue; }
            // The body is the worker role's to write: a letter received on another adapter's queue is not this job's own.
            if (letter.ReceivedAt != Topology.QueueUri(adapter.Queue).ToString()) { skipped.Add(new(letter.Id, "The message was received on another adapter's queue than its job's.")); continue; }
            // A second dead letter of a job replayed just now: the new attempt covers it.
            if (redriven.Contains(job.Id)) { delete.Add(letter); continue; }
            var events = JobLifecycle.OnRetry(job, by, now);
            if (events.Count == 0)
            {
                skipped.Add(new(letter.Id, job.ParamsErasedAt is not null ? "The job's params were erased." : $"The job is {job.State}; only a failed job is re-driven."));
                continue;
            }
            redriven.Add(job.Id);
            delete.Add(letter);
            decision.Ops.Add(new AppendJobEvents(job.Id, events));
            decision.Messages.Add(fairShare.Deliver(job.Id, job.ServiceId, adapter, JobLifecycle.RetryGeneration(job)));
        }
        return decision;
    }
}

/// <summary>
/// Replays dead letters. The core's own (its durable local queues) are marked replayable, and Wolverine's durability agent
/// moves them back into the inbox. A job's poison message (in the workers' store) is not: that agent hands a row to the
/// listener at the row's address or, where it has none, to the durable local queue of whichever node runs it, and one
/// workers' store serves every adapter, so an email worker's agent would take an SMS job. So the core re-drives the job
/// itself: the poison path ended it Failed, so it appends the retry (JobLifecycle.OnRetry, a new attempt), sends a new
/// DeliverJob to the adapter's queue through the outbox, and deletes the row, all in one transaction.
/// </summary>
public static class ReplayDeadLettersEndpoint
{
    public static Task<ReplayPlan> LoadAsync(DeadLetterSelection? request, IDocumentSession session, CancellationToken ct) =>
        ReplayPlan.LoadAsync(request, session, ct);

    public static ProblemDetails Validate(ReplayPlan plan) => plan.Selected.Problem;

    [WolverinePost("/admin/dead-letters/replay", OperationId = "replayDeadLetters")]
    [Tags("Operations")]
    [EndpointSummary("Replay dead letters")]
    [EndpointDescription("Replays the dead letters given by `ids` or by a filter (adapter, messageType, exceptionType, failure, from, to on the send time); `dryRun: true` answers what it would do without doing it. A job's message re-drives its job as a new attempt (only a Failed job whose params were not erased); the core's own messages go back to their queue. By ids: at most 1,000, answered at once (200). By a filter alone: 202, the replay runs as an operation over every match in batches (Location: /admin/operations/{id}, its counts). Recorded as an operation.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static (DeadLettersReplayed, IEnumerable<IMartenOp>, OutgoingMessages) Post(
        DeadLetterSelection request, [NotBody] ReplayPlan plan, ClaimsPrincipal user, TimeProvider clock, FairShare fairShare)
    {
        var (now, by) = (clock.GetUtcNow(), user.Actor());
        if (request.RunsAsOperation)
        {
            var start = ContinueDeadLettersHandler.Begin(OperationKind.Replay, request, plan.Selected, by, now);
            return (new(false, plan.Selected.Matched, 0, plan.Selected.Matched, plan.Selected.Sample, [], start.Id) { Location = OperationAnswer.LocationOf(start.Id) },
                [start.Stream], [start.Message]);
        }

        var decision = ReplayDecision.Decide(plan.Selected.Letters, plan.Jobs, plan.Adapters, by, now, fairShare);
        var remaining = plan.Selected.Matched - plan.Selected.Letters.Count;
        if (request.DryRun) return (new(true, plan.Selected.Matched, decision.Replayed, remaining, plan.Selected.Sample, decision.Skipped, null), [], []);

        var id = Guid.NewGuid();
        var ops = decision.Ops;
        ops.Add(new ChangeDeadLetterRows(decision.Delete, decision.MarkReplayable));
        ops.Add(MartenOps.StartStream<Operation>(id, Operation.Completed(id, OperationKind.Replay, by, now, request with { DryRun = false },
            plan.Selected.Letters.Count, decision.Replayed, decision.Skipped.Count)));
        return (new(false, plan.Selected.Matched, decision.Replayed, remaining, plan.Selected.Sample, decision.Skipped, id), ops, decision.Messages);
    }
}
