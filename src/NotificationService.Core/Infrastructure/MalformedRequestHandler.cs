using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Hosting;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Kestrel throws <see cref="BadHttpRequestException"/> from the body stream when the framing itself is broken (a chunk
/// size that is not hex, a body shorter than its Content-Length, a body over the limit): that is the client's mistake,
/// answered with the status Kestrel chose (400, 408, 413, ...), wherever in the pipeline the body was being read. A chunk
/// size too large for an int is the one framing error Kestrel reports as a plain <see cref="IOException"/>: it is 400.
/// </summary>
public sealed class MalformedRequestHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var status = exception switch
        {
            BadHttpRequestException bad => bad.StatusCode,
            _ when Logging.IsBrokenRequest(exception) => 400,
            _ => 0,
        };
        if (status == 0) return false;
        await Problems.WriteAsync(context, new ProblemDetails { Status = status, Title = "The request could not be read.", Detail = exception.Message });
        return true;
    }
}
