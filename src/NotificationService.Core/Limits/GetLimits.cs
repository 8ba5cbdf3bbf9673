using Microsoft.AspNetCore.Mvc;
using System.Security.Claims;
using NotificationService.Core.Auth;
using Wolverine.Http;

namespace NotificationService.Core.Limits;

/// <summary>What a service may do and how much of it it uses now.</summary>
public sealed record LimitsView(EffectiveLimits Limits, LimitsUse Use);

/// <summary>
/// <c>offerTokens</c>: offers the service may post at once now (refilled at <c>offersPerSecond</c> up to <c>burst</c>; while it
/// is busy, other core instances may hold up to half a second of its rate in leases, which this does not show);
/// <c>pendingJobs</c>: its jobs not yet ended, counted up to the quota plus one, at most once a second per service on each core.
/// </summary>
public sealed record LimitsUse(double OfferTokens, int PendingJobs);

public static class GetLimitsEndpoint
{
    [WolverineGet("/v1/limits", OperationId = "getLimits")]
    [Tags("Limits")]
    [EndpointSummary("Get your limits")]
    [EndpointDescription("The limits that apply to this service and how much of them it uses now (offer tokens, pending jobs).")]
    public static async Task<LimitsView> Get(ClaimsPrincipal user, HttpContext context, LimitDefaults defaults, LimitCounters counters)
    {
        var limits = context.LimitsOf(defaults);
        var serviceId = user.ServiceId();
        var available = Math.Min(limits.Burst, await counters.AvailableTokensAsync(serviceId, limits, context.RequestAborted) + counters.LeasedTokens(serviceId));
        var pending = await counters.PendingJobsAsync(serviceId, limits.PendingJobs, context.RequestAborted);
        return new LimitsView(limits, new LimitsUse(Math.Round(available, 3), pending));
    }
}
