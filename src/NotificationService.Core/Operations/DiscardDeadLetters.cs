using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Operations;

/// <param name="Matched">dead letters the selection matches; at most 1,000 are discarded per request (<see cref="Remaining"/> more)</param>
public sealed record DeadLettersDiscarded(bool DryRun, int Matched, int Discarded, int Remaining, IReadOnlyList<Guid> SampleIds, Guid? OperationId);

/// <summary>Deletes dead letters for good (their jobs stay as they are), by id or by filter, after an optional dry run.</summary>
public static class DiscardDeadLettersEndpoint
{
    public static Task<SelectedDeadLetters> LoadAsync(DeadLetterSelection? request, IQuerySession session, CancellationToken ct) =>
        SelectedDeadLetters.LoadAsync(request, session, ct);

    public static ProblemDetails Validate(SelectedDeadLetters selected) => selected.Problem;

    [WolverinePost("/admin/dead-letters/discard", OperationId = "discardDeadLetters")]
    [Tags("Operations")]
    [EndpointSummary("Discard dead letters")]
    [EndpointDescription("Deletes the dead letters given by `ids` or by a filter (adapter, messageType, exceptionType, failure, from, to on the send time); `dryRun: true` answers what it would delete. Their jobs are left as they are. At most 1,000 per request. Recorded as an operation.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static (DeadLettersDiscarded, IEnumerable<IMartenOp>) Post(DeadLetterSelection request, [NotBody] SelectedDeadLetters selected, ClaimsPrincipal user, TimeProvider clock)
    {
        var remaining = selected.Matched - selected.Letters.Count;
        if (request.DryRun) return (new(true, selected.Matched, selected.Letters.Count, remaining, selected.Sample, null), []);
        var id = Guid.NewGuid();
        var count = selected.Letters.Count;
        return (new(false, selected.Matched, count, remaining, selected.Sample, id),
        [
            new ChangeDeadLetterRows(selected.Letters, []),
            MartenOps.StartStream<Operation>(id, Operation.Completed(id, OperationKind.Discard, user.Actor(), clock.GetUtcNow(), request with { DryRun = false }, count, count, 0)),
        ]);
    }
}
