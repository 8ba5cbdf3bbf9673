using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

/// <summary>Route and query values checked once, before any endpoint loads or queries anything with them.</summary>
public static class RequestValues
{
    public static IApplicationBuilder UseRequestValueChecks(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        // Every id here is a random GUID, so the all-zero one names nothing: a 404 like any other missing id (Marten
        // would otherwise refuse it as a stream id with an exception).
        foreach (var (_, value) in context.Request.RouteValues)
            if (value is string text && Guid.TryParse(text, out var id) && id == Guid.Empty)
            {
                await Problems.WriteAsync(context, new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Nothing with this id was found." });
                return;
            }
        // PostgreSQL text cannot hold NUL: the same 422 as for such a string in a body.
        foreach (var (name, values) in context.Request.Query)
            if (values.Any(v => v?.Contains('\0') == true))
            {
                await Problems.WriteAsync(context, Problems.Invalid((name, "The value holds a NUL (\\u0000) character.")));
                return;
            }
        await next(context);
    });
}
