using NotificationService.Core.Services;

namespace NotificationService.Core.Limits;

public static class CallerLimits
{
    /// <summary>The calling service's account, as authentication found it (cached for at most AccessCache.Lifetime).</summary>
    public static ServiceAccount? CallerAccount(this HttpContext context) => context.Features.Get<ServiceAccount>();

    public static EffectiveLimits LimitsOf(this HttpContext context, LimitDefaults defaults) => defaults.For(context.CallerAccount()?.Limits);
}
