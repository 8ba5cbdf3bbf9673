using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Limits;

public static class ServiceBodyLimit
{
    /// <summary>
    /// A service's own, lower body cap (<c>maxBodyBytes</c>), after authentication has named the service: 413 naming the
    /// limit. The global cap (<see cref="RequestLimits.MaxBodyBytes"/>) has already bounded and, for a body of unknown
    /// length, buffered the body, so its length is known here without reading further.
    /// </summary>
    public static IApplicationBuilder UseServiceBodyLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.User.IsInRole(Roles.Service)
            && (context.Request.ContentLength ?? (context.Request.Body as MemoryStream)?.Length) is { } length)
        {
            var defaults = context.RequestServices.GetRequiredService<LimitDefaults>();
            var max = context.LimitsOf(defaults).MaxBodyBytes;
            if (length > max)
            {
                await Problems.WriteAsync(context, new Microsoft.AspNetCore.Mvc.ProblemDetails
                {
                    Status = StatusCodes.Status413PayloadTooLarge, Type = "https://tools.ietf.org/html/rfc9110#section-15.5.14",
                    Title = "The request body is too large.", Detail = $"This service may send bodies of at most {max} bytes.",
                    Extensions = { ["limit"] = "maxBodyBytes", ["value"] = max },
                });
                return;
            }
        }
        await next(context);
    });
}
