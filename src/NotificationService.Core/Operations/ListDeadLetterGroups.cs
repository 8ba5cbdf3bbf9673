using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Operations;

/// <summary>Dead letters grouped by failure, largest group first: what broke, how often, and which messages to look at.</summary>
public static class ListDeadLetterGroupsEndpoint
{
    public static Task<AdapterFilter> LoadAsync(string? adapter, IQuerySession session, CancellationToken ct) => AdapterFilter.LoadAsync(adapter, session, ct);

    public static ProblemDetails Validate(AdapterFilter filter, DateTimeOffset? from, DateTimeOffset? to) =>
        filter.Problem is { } unknown ? unknown
        : DeadLetters.WindowError(from, to) is { } window ? Problems.Invalid(window)
        : WolverineContinue.NoProblems;

    [WolverineGet("/admin/dead-letters/groups", OperationId = "listDeadLetterGroups")]
    [Tags("Operations")]
    [EndpointSummary("Dead letters grouped by failure")]
    [EndpointDescription("Counts of dead letters by exception type, failure shape (the exception message with ids and numbers masked) and message type, largest first, with the first and last send time and up to 10 sample ids. A group's exceptionType and failure are filters of the list, replay and discard.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static Task<IReadOnlyList<DeadLetterGroup>> Get(string? adapter, string? messageType, DateTimeOffset? from, DateTimeOffset? to,
        [NotBody] AdapterFilter filter, IQuerySession session, CancellationToken ct) =>
        DeadLetters.GroupsAsync(session, new DeadLetterSelection(null, adapter, messageType, null, null, from, to), filter.Found, ct);
}
