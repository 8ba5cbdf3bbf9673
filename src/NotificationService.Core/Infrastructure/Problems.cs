using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Infrastructure;

/// <summary>RFC 7807 bodies that name the offending field, so a client can fix its request without guessing.</summary>
public static class Problems
{
    public static ProblemDetails Invalid(params (string Field, string Message)[] errors) =>
        Invalid(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()));

    public static ProblemDetails Invalid(IDictionary<string, string[]> errors) =>
        new ValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The request is not valid.",
            Detail = string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")),
        };

    public static ProblemDetails NotFound(string what) =>
        new() { Status = StatusCodes.Status404NotFound, Title = $"{what} was not found." };

    public static ProblemDetails Conflict(string detail) =>
        new() { Status = StatusCodes.Status409Conflict, Title = "The request conflicts with the current state.", Detail = detail };

    /// <summary>
    /// Writes a problem outside an endpoint (middleware, authentication) through the same service as the rest, so it
    /// carries <c>type</c> and <c>traceId</c> like every other problem.
    /// </summary>
    public static Task WriteAsync(HttpContext context, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status ?? context.Response.StatusCode;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).AsTask();
    }
}
