namespace NotificationService.Core.Limits;

/// <summary>What an admitted offer holds until its request ends: its own reservation, or a token and places of a lease.</summary>
public sealed record Admission(Guid OfferId, int Jobs, OfferLease? Lease);

/// <summary>
/// An offer reserves its jobs before its transaction (<see cref="LimitCounters.EnterAsync"/>); if the offer is then not
/// stored (its validation passed but its commit failed: an idempotency race, a database error), this gives the places
/// back, so a failed offer never holds part of the quota. A committed offer has claimed its reservation already. An
/// offer admitted from a lease tells the lease it has ended, stored or not, so the lease can be closed.
/// </summary>
public static class PendingJobsReservations
{
    private static readonly object Key = new();

    public static void Reserved(HttpContext context, Admission admission) => context.Items[Key] = admission;

    public static IApplicationBuilder UsePendingJobsReservations(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch
        {
            await EndAsync(context, answered: false);
            throw;
        }
        // 202 is the only answer of a stored offer.
        await EndAsync(context, context.Response.StatusCode == StatusCodes.Status202Accepted);
    });

    private static async Task EndAsync(HttpContext context, bool answered)
    {
        if (context.Items[Key] is not Admission admission) return;
        try
        {
            await context.RequestServices.GetRequiredService<LimitCounters>().EndAsync(admission, answered, CancellationToken.None);
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
