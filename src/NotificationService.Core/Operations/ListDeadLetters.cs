using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Operations;

/// <summary>A dead letter as the admin API shows it (the stored message body is not shown: a job's params are not in it anyway).</summary>
public sealed record DeadLetterView(
    Guid Id, string Store, string MessageType, Guid? JobId, string? Adapter, string ExceptionType, string ExceptionMessage, string Failure,
    DateTimeOffset SentAt, string? ReceivedAt, bool Replayable)
{
    public static DeadLetterView From(DeadLetter l) =>
        new(l.Id, l.Store, l.MessageType, l.JobId, l.Adapter, l.ExceptionType, l.ExceptionMessage, l.Failure, l.SentAt, l.ReceivedAt, l.Replayable);
}

/// <summary>Dead letters, newest first, by the same filter a replay or discard takes.</summary>
public static class ListDeadLettersEndpoint
{
    public static Task<AdapterFilter> LoadAsync(string? adapter, IQuerySession session, CancellationToken ct) => AdapterFilter.LoadAsync(adapter, session, ct);

    public static ProblemDetails Validate(AdapterFilter filter, DateTimeOffset? from, DateTimeOffset? to, int? page, int? pageSize) =>
        Paging.Check(page, pageSize) is { } paging ? paging
        : filter.Problem is { } unknown ? unknown
        : DeadLetters.WindowError(from, to) is { } window ? Problems.Invalid(window)
        : WolverineContinue.NoProblems;

    [WolverineGet("/admin/dead-letters", OperationId = "listDeadLetters")]
    [Tags("Operations")]
    [EndpointSummary("List dead letters")]
    [EndpointDescription("Messages that kept failing (a job's poison message, or a message of the core's own queues), newest first, paged: message type, job id and adapter when it was a job's, the exception and its failure shape (ids and numbers masked). Filters: adapter (name), messageType, exceptionType, failure, from/to on the time the message was sent.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<PagedResult<DeadLetterView>> Get(
        string? adapter, string? messageType, string? exceptionType, string? failure, DateTimeOffset? from, DateTimeOffset? to, int? page, int? pageSize,
        [NotBody] AdapterFilter filter, IQuerySession session, CancellationToken ct)
    {
        var (number, size) = (page ?? 1, pageSize ?? 50);
        var (total, items) = await DeadLetters.ReadAsync(session, new DeadLetterSelection(null, adapter, messageType, exceptionType, failure, from, to),
            filter.Found, await DeadLetters.AdaptersByQueueUriAsync(session, ct), size, (number - 1) * size, ct);
        return new PagedResult<DeadLetterView>(items.Select(DeadLetterView.From).ToList(), number, size, total);
    }
}
