using Marten;
using Microsoft.AspNetCore.Authentication;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;

namespace NotificationService.Core.Auth;

public static class AuthConfiguration
{
    public static IServiceCollection AddApiKeyAuth(this IServiceCollection services)
    {
        services.AddSingleton<AdminKeys>().AddSingleton<AdminKeyThrottle>();
        services.AddSingleton<RejectedKeys>().AddHostedService(sp => sp.GetRequiredService<RejectedKeys>());
        // ASP.NET writes two Information lines for every refused key; RejectedKeys summarises them instead.
        services.AddLogging(b => b.AddFilter(typeof(ApiKeyAuthenticationHandler).FullName, LogLevel.Warning));
        services.AddSingleton<AccessCache>().AddSingleton<AccessCacheInvalidation>();
        services.ConfigureMarten((sp, opts) => opts.Listeners.Add(sp.GetRequiredService<AccessCacheInvalidation>()));
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Roles.Admin, p => p.RequireRole(Roles.Admin))
            .AddPolicy(Roles.Service, p => p.RequireRole(Roles.Service));
        return services;
    }

    /// <summary>The route prefix decides the role: <c>/admin</c> for admin keys, <c>/v1</c> for service keys.</summary>
    public static void RequireRoleByRoutePrefix(this WolverineHttpOptions opts) =>
        opts.ConfigureEndpoints(chain =>
        {
            var route = chain.RoutePattern?.RawText ?? "";
            if (route.StartsWith("/admin", StringComparison.Ordinal)) chain.RequireAuthorization(Roles.Admin);
            else if (route.StartsWith("/v1", StringComparison.Ordinal) && !chain.Method.Method.IsDefined(typeof(Microsoft.AspNetCore.Authorization.AllowAnonymousAttribute), false))
                chain.RequireAuthorization(Roles.Service);
        });
}
