namespace NotificationService.Core.Limits;

/// <summary>
/// An offer reserves its jobs before its transaction (<see cref="LimitCounters.EnterAsync"/>); if the offer is then not
/// stored (its validation passed but its commit failed: an idempotency race, a database error), this gives the places
/// back, so a failed offer never holds part of the quota. A committed offer has claimed its reservation already.
/// </summary>
public static class PendingJobsReservations
{
    private static readonly object Key = new();

    public static void Reserved(HttpContext context, Guid offerId) => context.Items[Key] = offerId;

    public static IApplicationBuilder UsePendingJobsReservations(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch
        {
            await ReleaseAsync(context);
            throw;
        }
        // 202 is the only answer of a stored offer.
        if (context.Response.StatusCode != StatusCodes.Status202Accepted) await ReleaseAsync(context);
    });

    private static async Task ReleaseAsync(HttpContext context)
    {
        if (context.Items[Key] is not Guid offerId) return;
        try
        {
            await context.RequestServices.GetRequiredService<LimitCounters>().ReleaseAsync(offerId, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Not fatal: the bound overstates until the service is next counted (and the reservation expires in a minute).
            context.RequestServices.GetRequiredService<ILogger<LimitCounters>>().LogWarning(e, "Could not release a pending-jobs reservation");
        }
    }

    /// <summary>Jobs end at their adapters' pace, unknown here; a full service is counted again at most once a second.</summary>
    public static Microsoft.AspNetCore.Mvc.ProblemDetails Problem(HttpContext context, int quota) =>
        LimitProblems.TooMany(context, "pendingJobs", quota, LimitCounters.RecountSeconds,
            $"This offer would take the service past its {quota} jobs not yet ended (scheduled, queued or started). Nothing was stored.");
}
