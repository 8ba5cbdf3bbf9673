using Marten.Exceptions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Two requests that race on one thing (an Idempotency-Key, an invite code, a unique name) meet at a primary key, unique
/// index or version check, or one updates what the other deleted: the second transaction fails whole, and its client gets
/// 409 and may retry.
/// </summary>
public sealed class ConcurrentChangeHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not JasperFx.DocumentAlreadyExistsException and not JasperFx.ConcurrencyException and not NonExistentDocumentException
            and not MartenCommandException { InnerException: Npgsql.PostgresException { SqlState: "23505" } })
            return false;
        context.Response.StatusCode = StatusCodes.Status409Conflict;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails
            {
                Status = 409, Title = "A concurrent request changed or deleted the same thing first.",
                Detail = "Nothing of this request was stored. Retry it (with the same Idempotency-Key, if any).",
            },
        });
    }
}
