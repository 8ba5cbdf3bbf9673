using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Limits;

/// <summary>429 answers: which limit, its value, and when to try again.</summary>
public static class LimitProblems
{
    public static ProblemDetails TooMany(HttpContext context, string limit, double value, int retryAfterSeconds, string detail)
    {
        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new ProblemDetails
        {
            Status = StatusCodes.Status429TooManyRequests, Type = "https://tools.ietf.org/html/rfc6585#section-4",
            Title = "A limit of this service was reached.", Detail = detail,
            Extensions = { ["limit"] = limit, ["value"] = value, ["retryAfterSeconds"] = retryAfterSeconds },
        };
    }
}
