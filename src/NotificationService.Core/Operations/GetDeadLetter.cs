using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Operations;

public static class GetDeadLetterEndpoint
{
    public static async Task<DeadLetter?> LoadAsync(Guid id, IQuerySession session, CancellationToken ct) =>
        (await DeadLetters.ReadAsync(session, new DeadLetterSelection([id]), null, await DeadLetters.AdaptersByQueueUriAsync(session, ct), 1, 0, ct)).Items.SingleOrDefault();

    public static ProblemDetails Validate([NotBody] DeadLetter? letter) => letter is null ? Problems.NotFound("Dead letter") : WolverineContinue.NoProblems;

    [WolverineGet("/admin/dead-letters/{id}", OperationId = "getDeadLetter")]
    [Tags("Operations")]
    [EndpointSummary("Get a dead letter")]
    [EndpointDescription("One dead letter: its message type, the job and adapter when it was a job's, the exception, its failure shape and its send time.")]
    [ProducesResponseType<ProblemDetails>(404, "application/problem+json")]
    public static DeadLetterView Get(Guid id, [NotBody] DeadLetter letter) => DeadLetterView.From(letter);
}
