using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

public static class RequestLimits
{
    /// <summary>Bodies above this are refused with 413 before they are read (offers with 100 targets fit easily).</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// Kestrel's limit for a body of unknown length, only a backstop: Kestrel counts a chunked body's framing (size lines,
    /// line ends) with its data, up to six bytes per byte sent in one-byte chunks, so at <see cref="MaxBodyBytes"/> it
    /// refused chunked bodies under it (1,048,575 bytes in HttpClient's chunks). The exact check, on the data, is ours.
    /// </summary>
    public const long ChunkedWireBytes = 8 * MaxBodyBytes;

    /// <summary>
    /// 413 with a problem body for a body over the limit: a declared length is refused before reading; a body of unknown
    /// length is read until it is past the limit, at most one read beyond it (Kestrel stops its wire bytes at
    /// <see cref="ChunkedWireBytes"/>), and then the connection is closed, as the rest of the body is not read. This also covers the test server.
    /// </summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        if (request.ContentLength > MaxBodyBytes) { await TooLarge(context); return; }
        if (request.ContentLength is null && (request.Headers.TransferEncoding.Count > 0 || !HttpMethods.IsGet(request.Method)))
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } server) server.MaxRequestBodySize = ChunkedWireBytes;
            try
            {
                if (!await PooledBody.ReadAsync(context, MaxBodyBytes))
                {
                    // The rest of the body is still on the connection, which must not carry another request: without this,
                    // a client's next request on it ended prematurely (seen in CI).
                    context.Response.Headers.Connection = "close";
                    await TooLarge(context); return;
                }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // Past ChunkedWireBytes on the wire (tiny chunks, long chunk extensions): Kestrel closes the connection.
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
