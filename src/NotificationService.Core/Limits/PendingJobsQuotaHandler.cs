using Microsoft.AspNetCore.Diagnostics;

namespace NotificationService.Core.Limits;

/// <summary>
/// The pending-jobs quota is decided inside the offer's transaction (<see cref="LimitsStorage.AdmitPendingJobs"/>), so
/// it arrives as the transaction's failure: nothing of the offer was stored, and the client gets 429 naming the limit.
/// </summary>
public sealed class PendingJobsQuotaHandler(IProblemDetailsService problems, LimitDefaults defaults) : IExceptionHandler
{
    /// <summary>Jobs end at their adapters' pace, unknown here; a few seconds keeps a waiting client from hammering.</summary>
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (!LimitsStorage.IsPendingJobsExceeded(exception)) return false;
        var quota = context.LimitsOf(defaults).PendingJobs;
        var problem = LimitProblems.TooMany(context, "pendingJobs", quota, RetryAfterSeconds,
            $"This offer would take the service past its {quota} jobs not yet ended (scheduled, queued or started). Nothing was stored.");
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }
}
