using System.Reflection;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Operations;

/// <param name="Matched">dead letters the selection matches; a dry run previews at most 1,000 (<see cref="Remaining"/> more)</param>
/// <param name="Discarded">deleted (or, in a dry run, would be); 0 when a discard by filter was started as an operation</param>
public sealed record DeadLettersDiscarded(bool DryRun, int Matched, int Discarded, int Remaining, IReadOnlyList<Guid> SampleIds, Guid? OperationId)
    : IHttpAware
{
    /// <summary>Set when the discard runs as an operation (by filter): the answer is 202 with its address.</summary>
    [JsonIgnore] public string? Location { get; init; }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) => OperationAnswer.Populate<DeadLettersDiscarded>(builder);
    void IHttpAware.Apply(HttpContext context) => OperationAnswer.Apply(context, Location);
}

/// <summary>Deletes dead letters for good (their jobs stay as they are), by id or by filter, after an optional dry run.</summary>
public static class DiscardDeadLettersEndpoint
{
    public static Task<SelectedDeadLetters> LoadAsync(DeadLetterSelection? request, IQuerySession session, CancellationToken ct) =>
        SelectedDeadLetters.LoadAsync(request, session, ct);

    public static ProblemDetails Validate(SelectedDeadLetters selected) => selected.Problem;

    [WolverinePost("/admin/dead-letters/discard", OperationId = "discardDeadLetters")]
    [Tags("Operations")]
    [EndpointSummary("Discard dead letters")]
    [EndpointDescription("Deletes the dead letters given by `ids` or by a filter (adapter, messageType, exceptionType, failure, from, to on the send time); `dryRun: true` answers what it would delete. Their jobs are left as they are. By ids: at most 1,000, answered at once (200). By a filter alone: 202, the discard runs as an operation over every match in batches (Location: /admin/operations/{id}, its counts). Recorded as an operation.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static (DeadLettersDiscarded, IEnumerable<IMartenOp>, OutgoingMessages) Post(DeadLetterSelection request, [NotBody] SelectedDeadLetters selected, ClaimsPrincipal user, TimeProvider clock)
    {
        var (now, by) = (clock.GetUtcNow(), user.Actor());
        if (request.RunsAsOperation)
        {
            var start = ContinueDeadLettersHandler.Begin(OperationKind.Discard, request, selected, by, now);
            return (new(false, selected.Matched, 0, selected.Matched, selected.Sample, start.Id) { Location = OperationAnswer.LocationOf(start.Id) },
                [start.Stream], [start.Message]);
        }
        var remaining = selected.Matched - selected.Letters.Count;
        if (request.DryRun) return (new(true, selected.Matched, selected.Letters.Count, remaining, selected.Sample, null), [], []);
        var id = Guid.NewGuid();
        var count = selected.Letters.Count;
        return (new(false, selected.Matched, count, remaining, selected.Sample, id),
        [
            new ChangeDeadLetterRows(selected.Letters, []),
            MartenOps.StartStream<Operation>(id, Operation.Completed(id, OperationKind.Discard, by, now, request with { DryRun = false }, count, count, 0)),
        ], []);
    }
}
