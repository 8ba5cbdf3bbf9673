using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Marten;
using Marten.Patching;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using NotificationService.Storage;

namespace NotificationService.Core.Auth;

public static class Roles
{
    public const string Admin = "admin";
    public const string Service = "service";
}

/// <summary>
/// Admin keys come from configuration (<c>Admin:ApiKeys</c>); only their hashes are kept in memory, recomputed whenever the
/// configuration reloads (appsettings.json edited), so a key removed there stops working, and its console sessions end, at once.
/// </summary>
public sealed class AdminKeys
{
    private sealed record Keys(byte[][] Hashes, string[] Fingerprints);
    private volatile Keys _keys;

    public AdminKeys(IConfiguration configuration)
    {
        _keys = Read(configuration);
        ChangeToken.OnChange(configuration.GetReloadToken, () => _keys = Read(configuration));
    }

    private static Keys Read(IConfiguration configuration)
    {
        var keys = (configuration.GetSection("Admin:ApiKeys").Get<string[]>() ?? []).Where(k => !string.IsNullOrWhiteSpace(k)).ToArray();
        return new(keys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToArray(), keys.Select(Fingerprint).ToArray());
    }

    /// <summary>
    /// What names an admin outside the process (the actor "admin:&lt;fingerprint&gt;", a console session): 8 hex digits of
    /// the key's SHA-256, too few to test guesses of the key against offline.
    /// </summary>
    public static string Fingerprint(string key) => ApiKeys.Hash(key)[..8];

    /// <summary>Whether a key with this <see cref="Fingerprint"/> is still configured (a console session names its key so).</summary>
    public bool MatchesFingerprint(string fingerprint) => _keys.Fingerprints.Contains(fingerprint, StringComparer.Ordinal);

    public bool Matches(string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        var match = false;
        // Compare against every key in constant time so timing tells nothing about which prefix matched.
        foreach (var candidate in _keys.Hashes) match |= CryptographicOperations.FixedTimeEquals(candidate, hash);
        return match;
    }
}

/// <summary>
/// What a cookie-based sign-in (the web console, in its own folder) tells the key handler about a request without an
/// Authorization header: no session, a session that is not valid (a reason for the refusal count), or the admin it
/// belongs to and whether a state-changing request carried its CSRF token. An interface here keeps Auth below the
/// folder that implements it.
/// </summary>
public interface IAdminSessions
{
    Task<AdminSessionCheck> CheckAsync(HttpContext context);
}

public sealed record AdminSessionCheck(string? Actor, string? Refusal, bool CsrfMissing)
{
    public static readonly AdminSessionCheck None = new(null, null, false);
}

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c> decides the role: an admin key, or a service key that belongs to an active
/// service. Keys are never read from the query string. Without the header, a web console session's cookie
/// (<see cref="IAdminSessions"/>) may stand in for the admin key it was opened with.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    AdminKeys adminKeys, AdminKeyThrottle throttle, AccessCache cache, IDocumentStore store, TimeProvider clock, RejectedKeys rejected,
    IEnumerable<IAdminSessions> sessions)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ServiceIdClaim = "ns:service";
    /// <summary>On a console session's state-changing request without its CSRF token: identified, but no role (403).</summary>
    public const string CsrfMissingClaim = "ns:csrf-missing";
    private static readonly object Throttled = new();

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) return await SessionAsync();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.Fail("Use 'Authorization: Bearer <key>'.");

        var key = header["Bearer ".Length..].Trim();
        // A key that is not a service's can only be an admin key: counted with the console's sign-ins (AdminKeyThrottle)
        // before it is checked, so Bearer is no way around the sign-in form's limit.
        var admin = !key.StartsWith(ApiKeys.ServicePrefix, StringComparison.Ordinal);
        var address = Context.Connection.RemoteIpAddress;
        if (admin && throttle.TryAttempt(address) is { } wait)
        {
            Context.Items[Throttled] = wait;
            return AuthenticateResult.Fail("Too many failed admin keys.");
        }
        // Admins are named by a fingerprint of their key, so the admin history tells keys apart without revealing them.
        if (adminKeys.Matches(key))
        {
            if (admin) throttle.Succeeded(address);
            return Success(new Claim(ClaimTypes.Role, Roles.Admin), new Claim(ClaimTypes.Name, $"admin:{AdminKeys.Fingerprint(key)}"));
        }
        if (admin) return AuthenticateResult.Fail("Unknown key.");

        var hash = ApiKeys.Hash(key);
        if (!cache.ServiceKeys.TryGet(hash, out var known))
        {
            await using var session = store.QuerySession();
            var serviceKey = await session.LoadAsync<ServiceKey>(hash, Context.RequestAborted);
            if (serviceKey is null) return AuthenticateResult.Fail("Unknown or revoked key.");
            var account = await session.LoadAsync<ServiceAccount>(serviceKey.ServiceId, Context.RequestAborted);
            if (account is null) return AuthenticateResult.Fail("Unknown key.");
            cache.ServiceKeys.Keep(hash, known = (serviceKey, account));
        }
        var service = known.Service;
        // The endpoints read the caller's limits from here, so enforcing them costs no extra lookup.
        Context.Features.Set(service);
        await RecordUseAsync(known.Key);

        // A blocked service is still identified (so it gets 403, not 401) but holds no role.
        var claims = new List<Claim> { new(ServiceIdClaim, service.Id.ToString()), new(ClaimTypes.Name, $"service:{service.Name}") };
        if (service.Status == ServiceStatus.Active) claims.Add(new Claim(ClaimTypes.Role, Roles.Service));
        return Success([.. claims]);
    }

    /// <summary>A console session's cookie stands in for the admin key it was opened with (same role, same actor name).</summary>
    private async Task<AuthenticateResult> SessionAsync()
    {
        foreach (var source in sessions)
        {
            var check = await source.CheckAsync(Context);
            if (check.Refusal is { } refusal) return AuthenticateResult.Fail(refusal);
            if (check.Actor is not { } actor) continue;
            return check.CsrfMissing
                ? Success(new Claim(ClaimTypes.Name, actor), new Claim(CsrfMissingClaim, "true"))
                : Success(new Claim(ClaimTypes.Role, Roles.Admin), new Claim(ClaimTypes.Name, actor));
        }
        return AuthenticateResult.NoResult();
    }

    /// <summary>"Last used" to the minute: one small write per key per minute, not one per request.</summary>
    private async Task RecordUseAsync(ServiceKey key)
    {
        var now = clock.GetUtcNow();
        if (key.LastUsedAt is { } last && now - last < TimeSpan.FromMinutes(1)) return;
        await using var session = store.LightweightSession();
        // A patch (an UPDATE), not a store: a key revoked (deleted) meanwhile must not come back.
        session.Patch<ServiceKey>(key.Id).Set(k => k.LastUsedAt, now);
        await session.SaveChangesAsync(Context.RequestAborted);
        key.LastUsedAt = now; // the cached copy too, so the next minute's requests do not write again
    }

    private AuthenticateResult Success(params Claim[] claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));

    // Refusals are counted into a periodic summary (RejectedKeys) instead of a line each; the base class's own
    // per-request lines are kept below Information in AuthConfiguration.
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        // Only our own fixed reasons name a line; an exception's message (a database error while checking) may quote data.
        rejected.Record(result.Failure switch
        {
            null => "no key",
            AuthenticationFailureException ours => ours.Message.TrimEnd('.'),
            _ => "the key could not be checked",
        });
        if (Context.Items[Throttled] is TimeSpan wait)
        {
            Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString("0");
            await WriteProblem(StatusCodes.Status429TooManyRequests, "Too many failed admin keys.", "Wait a minute before trying an admin key again from this address.");
            return;
        }
        Response.Headers.WWWAuthenticate = "Bearer";
        await WriteProblem(StatusCodes.Status401Unauthorized, "A valid API key is required.", "Send 'Authorization: Bearer <key>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var blocked = Context.User.HasClaim(c => c.Type == ServiceIdClaim) && !Context.User.IsInRole(Roles.Service);
        if (Context.User.HasClaim(c => c.Type == CsrfMissingClaim))
        {
            rejected.Record("console request without its CSRF token");
            return WriteProblem(StatusCodes.Status403Forbidden, "The CSRF token is missing or wrong.",
                "A request signed in by the console's cookie that changes something must send the session's token in 'X-CSRF-Token' (GET /console/session gives it).");
        }
        rejected.Record(blocked ? "blocked service" : "wrong role");
        return WriteProblem(StatusCodes.Status403Forbidden, "This key may not use this resource.",
            blocked ? "The service is blocked." : "The key's role does not allow this endpoint.");
    }

    private Task WriteProblem(int status, string title, string detail) =>
        Problems.WriteAsync(Context, new ProblemDetails { Status = status, Title = title, Detail = detail });
}

public static class CallerExtensions
{
    /// <summary>Who did it, for admin history: "admin:&lt;key fingerprint&gt;" or "service:&lt;name&gt;".</summary>
    public static string Actor(this ClaimsPrincipal user) => user.Identity?.Name ?? "anonymous";

    /// <summary>The authenticated service's id; only called on endpoints that require the service role.</summary>
    public static Guid ServiceId(this ClaimsPrincipal user) =>
        Guid.Parse(user.FindFirstValue(ApiKeyAuthenticationHandler.ServiceIdClaim)
                   ?? throw new InvalidOperationException("The caller is not a service."));
}
