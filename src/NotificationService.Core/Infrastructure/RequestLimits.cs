using Marten.Exceptions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

public static class RequestLimits
{
    /// <summary>Bodies above this are refused with 413 before they are read (offers with 100 targets fit easily).</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// 413 with a problem body for a body over the limit: a declared length is refused before reading; a chunked body is
    /// read up to one byte past the limit. Kestrel enforces the same limit itself; this also covers the test server.
    /// </summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if (request.ContentLength > MaxBodyBytes) { await TooLarge(context); return; }
        if (request.ContentLength is null && (request.Headers.TransferEncoding.Count > 0 || !HttpMethods.IsGet(request.Method)))
        {
            var buffered = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffered.Length + read > MaxBodyBytes) { await TooLarge(context); return; }
                buffered.Write(chunk, 0, read);
            }
            buffered.Position = 0;
            request.Body = buffered;
        }
        await next(context);
    });

    private static Task TooLarge(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        return context.Response.WriteAsJsonAsync(new ProblemDetails
        {
            Status = 413, Title = "The request body is too large.", Detail = $"At most {MaxBodyBytes} bytes.",
        }, options: null, contentType: "application/problem+json");
    }
}

/// <summary>
/// Two requests that race on one thing (an Idempotency-Key, an invite code, a unique name) meet at a primary key, unique
/// index or version check: the second transaction fails whole, and its client gets 409 and may retry.
/// </summary>
public sealed class ConcurrentDuplicateHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not JasperFx.DocumentAlreadyExistsException and not JasperFx.ConcurrencyException
            and not MartenCommandException { InnerException: Npgsql.PostgresException { SqlState: "23505" } })
            return false;
        context.Response.StatusCode = StatusCodes.Status409Conflict;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails
            {
                Status = 409, Title = "A concurrent request changed the same thing first.",
                Detail = "Nothing of this request was stored. Retry it (with the same Idempotency-Key, if any).",
            },
        });
    }
}
