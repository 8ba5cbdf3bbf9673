using System.Security.Cryptography;
using System.Text;
using Marten;
using NotificationService.Core.Auth;
using NotificationService.Storage;

namespace NotificationService.Core.Console;

/// <summary>
/// A signed-in web console: stored in PostgreSQL, so it survives a core restart and works on every core. The id is the
/// SHA-256 of the cookie's random token (a copy of the table opens no session); the key is named by its 8-digit
/// fingerprint only (<see cref="AdminKeys.Fingerprint"/>), so a copy of the table cannot test guesses of the key either.
/// Sessions end at a fixed time (<c>Console:SessionHours</c>, 8 h by default) after sign-in, not sliding: no write per request.
/// </summary>
public sealed class ConsoleSession
{
    public string Id { get; set; } = "";
    /// <summary><see cref="AdminKeys.Fingerprint"/> of the admin key signed in with: the session dies with the key's configuration.</summary>
    public string KeyFingerprint { get; set; } = "";
    public string Actor { get; set; } = "";
    public string CsrfToken { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }

    public static string IdOf(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A new session and the cookie token that opens it (only the browser keeps the token).</summary>
    public static (ConsoleSession Session, string Token) Open(string adminKey, DateTimeOffset now, TimeSpan lifetime)
    {
        var token = RandomToken();
        var fingerprint = AdminKeys.Fingerprint(adminKey);
        return (new ConsoleSession
        {
            Id = IdOf(token), KeyFingerprint = fingerprint, Actor = $"admin:{fingerprint}", CsrfToken = RandomToken(),
            CreatedAt = now, ExpiresAt = now + lifetime,
        }, token);
    }

    private static string RandomToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>
/// Finds the request's console session from its cookie and tells the key handler (<see cref="IAdminSessions"/>) whether it
/// stands for an admin, and whether a state-changing request carries the session's CSRF token.
/// </summary>
public sealed class ConsoleSessions(IDocumentStore store, AdminKeys adminKeys, TimeProvider clock, IConfiguration configuration) : IAdminSessions
{
    public const string CookieName = "ns_console";
    /// <summary>The name of a Secure cookie: browsers accept a <c>__Host-</c> cookie only from HTTPS, host-only, Path=/.</summary>
    public const string SecureCookieName = "__Host-ns_console";
    public const string CsrfHeader = "X-CSRF-Token";
    private static readonly object Found = new();

    /// <summary>
    /// <c>Console:SecureCookie</c>: <c>auto</c> (the default) marks the cookie Secure when the request came over HTTPS, as
    /// the core sees it (behind a TLS-terminating proxy only with forwarded headers on); <c>always</c> marks it Secure
    /// whatever the request, for a proxy whose forwarded headers the core does not read.
    /// </summary>
    private readonly bool _alwaysSecure = (configuration["Console:SecureCookie"] ?? "auto").Trim().ToLowerInvariant() switch
    {
        "auto" or "" => false,
        "always" => true,
        var other => throw new InvalidOperationException($"Console:SecureCookie must be 'auto' or 'always', not '{other}'."),
    };

    public bool SecureCookie(HttpRequest request) => _alwaysSecure || request.IsHttps;

    /// <summary>The cookie's name for this request: only the one a request of its kind is given is read back.</summary>
    public string CookieNameFor(HttpRequest request) => SecureCookie(request) ? SecureCookieName : CookieName;

    public CookieOptions CookieOptions(HttpRequest request, DateTimeOffset? expires = null) => new()
    {
        HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = SecureCookie(request), Path = "/", IsEssential = true, Expires = expires,
    };

    /// <summary>The session token the request's cookie carries, or null.</summary>
    public string? TokenOf(HttpRequest request) => request.Cookies[CookieNameFor(request)] is { Length: > 0 and <= 100 } token ? token : null;

    public TimeSpan Lifetime { get; } = TimeSpan.FromHours(Math.Clamp(configuration.GetValue("Console:SessionHours", 8.0), 0.01, 24 * 30));

    /// <summary>The stored session the cookie names, valid or not (once per request); null without a cookie or a stored session.</summary>
    public async Task<ConsoleSession?> FindAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(Found, out var cached)) return (ConsoleSession?)cached;
        ConsoleSession? found = null;
        if (TokenOf(context.Request) is { } token)
        {
            await using var session = store.QuerySession();
            found = await session.LoadAsync<ConsoleSession>(ConsoleSession.IdOf(token), context.RequestAborted);
        }
        context.Items[Found] = found;
        return found;
    }

    /// <summary>Why a stored session does not open the console any more, or null while it does.</summary>
    public string? Refusal(ConsoleSession session) =>
        session.ExpiresAt <= clock.GetUtcNow() ? "Unknown or expired console session."
        : !adminKeys.MatchesFingerprint(session.KeyFingerprint) ? "The console session's admin key is no longer configured."
        : null;

    public static bool ChangesState(HttpRequest request) => !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method));

    /// <summary>Constant-time, so timing tells nothing about how much of a guessed token was right.</summary>
    public static bool CarriesCsrfToken(HttpRequest request, ConsoleSession session)
    {
        string? sent = request.Headers[CsrfHeader];
        return sent is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sent), Encoding.UTF8.GetBytes(session.CsrfToken));
    }

    public async Task<AdminSessionCheck> CheckAsync(HttpContext context)
    {
        if (!context.Request.Cookies.ContainsKey(CookieNameFor(context.Request))) return AdminSessionCheck.None;
        var session = await FindAsync(context);
        if (session is null) return new AdminSessionCheck(null, "Unknown or expired console session.", false);
        if (Refusal(session) is { } refusal) return new AdminSessionCheck(null, refusal, false);
        return new AdminSessionCheck(session.Actor, null, ChangesState(context.Request) && !CarriesCsrfToken(context.Request, session));
    }
}
