using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace NotificationService.Client;

/// <summary>Registers the typed clients through IHttpClientFactory (pooled handlers, DNS refresh, pluggable handlers).</summary>
public static class NotificationClientRegistration
{
    /// <summary>The HttpClient name (and named options) of <see cref="NotificationClient"/>.</summary>
    public const string ClientName = "NotificationService.Client";

    /// <summary>The HttpClient name (and named options) of <see cref="NotificationAdminClient"/>.</summary>
    public const string AdminClientName = "NotificationService.AdminClient";

    /// <summary>
    /// Registers <see cref="NotificationClient"/> for the <c>/v1</c> API with a service key. Returns the HttpClient builder,
    /// so handlers can be added (e.g. a resilience handler: a retried create-offer keeps its Idempotency-Key).
    /// </summary>
    public static IHttpClientBuilder AddNotificationClient(this IServiceCollection services, Action<NotificationClientOptions> configure) =>
        Add(services, ClientName, configure, keyRequired: false, (http, key) => new NotificationClient(http, key));

    /// <summary>Registers <see cref="NotificationAdminClient"/> for the <c>/admin</c> API with an admin key.</summary>
    public static IHttpClientBuilder AddNotificationAdminClient(this IServiceCollection services, Action<NotificationClientOptions> configure) =>
        Add(services, AdminClientName, configure, keyRequired: true, (http, key) => new NotificationAdminClient(http, key!));

    private static IHttpClientBuilder Add<TClient>(
        IServiceCollection services, string name, Action<NotificationClientOptions> configure, bool keyRequired, Func<HttpClient, string?, TClient> create)
        where TClient : class
    {
        // Checked when the host starts (ValidateOnStart), so a missing address stops the app instead of failing its first call.
        services.AddOptions<NotificationClientOptions>(name).Configure(configure)
            .Validate(o => o.Check(keyRequired).Count == 0, $"{name}: BaseAddress must be an absolute http(s) URI{(keyRequired ? " and ApiKey is required" : "")}.")
            .ValidateOnStart();
        return services.AddHttpClient(name, (sp, http) =>
            {
                var options = sp.GetRequiredService<IOptionsMonitor<NotificationClientOptions>>().Get(name);
                if (options.Check(keyRequired) is { Count: > 0 } problems)
                    throw new OptionsValidationException(name, typeof(NotificationClientOptions), problems);
                http.BaseAddress = options.NormalisedBaseAddress;
                http.Timeout = options.Timeout;
            })
            .AddTypedClient((http, sp) => create(http, sp.GetRequiredService<IOptionsMonitor<NotificationClientOptions>>().Get(name).ApiKey));
    }
}
