using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// A body of JSON <c>null</c> (or none at all) deserializes to no request object; every endpoint that takes a body then
/// answers 400, before its own loading and validation run.
/// </summary>
public static class RequireBody
{
    public static ProblemDetails Before(object? body) =>
        body is null
            ? new ProblemDetails { Status = StatusCodes.Status400BadRequest, Title = "A JSON object body is required.", Detail = "The body was empty or null." }
            : WolverineContinue.NoProblems;
}
