using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

public static class RequestLimits
{
    /// <summary>Bodies above this are refused with 413 before they are read (offers with 100 targets fit easily).</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// Kestrel's own limit, a backstop above <see cref="MaxBodyBytes"/>: Kestrel counts a chunked body so that it refused
    /// one a few hundred bytes under the limit (1,048,575 bytes: 413), so the exact check is ours (<see cref="UseBodySizeLimit"/>).
    /// </summary>
    public const long ServerMaxBodyBytes = MaxBodyBytes + 64 * 1024;

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
            try
            {
                if (!await PooledBody.ReadAsync(context, MaxBodyBytes)) { await TooLarge(context); return; }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // Kestrel counts a chunked body against the same limit and throws before the check above sees it.
                await TooLarge(context); return;
            }
        }
        await next(context);
    });

    public static Task TooLarge(HttpContext context) => Problems.WriteAsync(context, new ProblemDetails
    {
        // ASP.NET's defaults give no type for 413.
        Status = 413, Type = "https://tools.ietf.org/html/rfc9110#section-15.5.14", Title = "The request body is too large.", Detail = $"At most {MaxBodyBytes} bytes.",
    });
}
