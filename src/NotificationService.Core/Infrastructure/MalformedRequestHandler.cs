using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Kestrel throws <see cref="BadHttpRequestException"/> from the body stream when the framing itself is broken (a chunk
/// size that is not hex, a body shorter than its Content-Length, a body over the limit): that is the client's mistake,
/// answered with the status Kestrel chose (400, 408, 413, ...), wherever in the pipeline the body was being read.
/// </summary>
public sealed class MalformedRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad) return false;
        context.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = bad.StatusCode, Title = "The request could not be read.", Detail = bad.Message },
        });
    }
}
