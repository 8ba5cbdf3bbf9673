using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace NotificationService.Core.Limits;

/// <summary>
/// The pending-jobs quota is held inside the offer's transaction (<see cref="LimitsStorage.AdmitPendingJobs"/>): an
/// offer that lost the race for the last places arrives here as the transaction's failure, nothing of it stored, and its
/// client gets the same 429 as one refused before its transaction began.
/// </summary>
public sealed class PendingJobsQuotaHandler(IProblemDetailsService problems, LimitDefaults defaults) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (!LimitsStorage.IsPendingJobsExceeded(exception)) return false;
        var problem = Problem(context, context.LimitsOf(defaults).PendingJobs);
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }

    /// <summary>Jobs end at their adapters' pace, unknown here; a full service is counted again at most once a second.</summary>
    public static ProblemDetails Problem(HttpContext context, int quota) =>
        LimitProblems.TooMany(context, "pendingJobs", quota, LimitCounters.RecountSeconds,
            $"This offer would take the service past its {quota} jobs not yet ended (scheduled, queued or started). Nothing was stored.");
}
