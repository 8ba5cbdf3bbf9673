using System.ComponentModel.DataAnnotations;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Console;

// Nullable so that a missing field is a 422 naming it, not a 400; [Required] keeps it required in the OpenAPI document.
public sealed record ConsoleSignIn([property: Required] string? Key);

public sealed record ConsoleSessionView(string Actor, string CsrfToken, DateTimeOffset ExpiresAt);

/// <summary>
/// The web console signs in once with an admin key and then holds only a session cookie (HttpOnly, SameSite=Strict):
/// the key is not kept by the browser's script, and every console action is still an /admin API call.
/// </summary>
public static class ConsoleSignInEndpoint
{
    public static ProblemDetails Validate(ConsoleSignIn command, HttpContext context, AdminKeys keys, AdminKeyThrottle throttle, RejectedKeys rejected)
    {
        if (string.IsNullOrEmpty(command.Key)) return Problems.Invalid(("key", "The admin key is required."));
        if (command.Key.Length > 1000) return Problems.Invalid(("key", "No admin key is that long."));
        // The same count as a Bearer admin key's (AdminKeyThrottle), taken before the key is checked.
        var address = context.Connection.RemoteIpAddress;
        if (throttle.TryAttempt(address) is { } wait)
        {
            rejected.Record("console sign-in while throttled");
            context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString("0");
            return new ProblemDetails { Status = 429, Title = "Too many failed admin keys.", Detail = "Wait a minute before trying an admin key again from this address." };
        }
        if (keys.Matches(command.Key))
        {
            throttle.Succeeded(address);
            return WolverineContinue.NoProblems;
        }
        rejected.Record("console sign-in with an unknown key");
        return new ProblemDetails { Status = 401, Title = "A valid admin key is required.", Detail = "The key is not one of the configured admin keys." };
    }

    [AllowAnonymous]
    [WolverinePost("/console/session", OperationId = "signInToConsole")]
    [Tags("Console")]
    [EndpointSummary("Sign in to the web console")]
    [EndpointDescription("Checks an admin key and opens a console session: 204 with an HttpOnly, SameSite=Strict cookie holding a random session token (never the key). With the cookie every /admin endpoint works as with the key; a request that changes something must also send the session's CSRF token (GET /console/session) in 'X-CSRF-Token'. Failed admin keys from one address, here and as 'Authorization: Bearer', are limited per minute (429).")]
    [ProducesResponseType(204)]
    [ProducesResponseType<ProblemDetails>(401, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(429, "application/problem+json")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static (IResult, IMartenOp, IMartenOp) Post(ConsoleSignIn command, HttpContext context, ConsoleSessions sessions, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var (session, token) = ConsoleSession.Open(command.Key!, now, sessions.Lifetime);
        // A sign-in over an existing session ends that one: the browser holds one session, and the old token opens nothing.
        var previous = sessions.TokenOf(context.Request) is { } old ? ConsoleSession.IdOf(old) : "";
        context.Response.Cookies.Append(sessions.CookieNameFor(context.Request), token, sessions.CookieOptions(context.Request, session.ExpiresAt));
        // Signing in sweeps the sessions that ended, so the table holds only live ones and a few days of nobody signing in.
        return (Results.NoContent(), MartenOps.Store(session), MartenOps.DeleteWhere<ConsoleSession>(s => s.ExpiresAt < now || s.Id == previous));
    }
}

public static class ConsoleSessionEndpoint
{
    [AllowAnonymous]
    [WolverineGet("/console/session", OperationId = "getConsoleSession")]
    [Tags("Console")]
    [EndpointSummary("The console's session")]
    [EndpointDescription("Who the console is signed in as, the CSRF token its state-changing requests must send in 'X-CSRF-Token', and when the session ends (a fixed time after sign-in). 401 without a valid session.")]
    [ProducesResponseType<ProblemDetails>(401, "application/problem+json")]
    public static async Task<IResult> Get(HttpContext context, ConsoleSessions sessions)
    {
        var session = await sessions.FindAsync(context);
        if (session is null || sessions.Refusal(session) is not null)
            return Results.Problem(statusCode: 401, title: "Not signed in.", detail: "Sign in with POST /console/session.");
        return Results.Ok(new ConsoleSessionView(session.Actor, session.CsrfToken, session.ExpiresAt));
    }

    [AllowAnonymous]
    [WolverineDelete("/console/session", OperationId = "signOutOfConsole")]
    [Tags("Console")]
    [EndpointSummary("Sign out of the web console")]
    [EndpointDescription("Deletes the session on the server (the cookie opens nothing afterwards, on any core) and clears the cookie. Needs the session's 'X-CSRF-Token' (403 without it). Without a session it does nothing and answers 204 too.")]
    [ProducesResponseType(204)]
    [ProducesResponseType<ProblemDetails>(403, "application/problem+json")]
    public static async Task<IResult> Delete(HttpContext context, ConsoleSessions sessions, IDocumentSession documents)
    {
        var session = await sessions.FindAsync(context);
        if (session is not null)
        {
            // Even a session whose key was removed needs its token: a cross-site page must not sign anyone out.
            if (!ConsoleSessions.CarriesCsrfToken(context.Request, session))
                return Results.Problem(statusCode: 403, title: "The CSRF token is missing or wrong.", detail: "Send the session's token in 'X-CSRF-Token'.");
            documents.Delete(session);
            await documents.SaveChangesAsync(context.RequestAborted);
        }
        context.Response.Cookies.Delete(sessions.CookieNameFor(context.Request), sessions.CookieOptions(context.Request));
        return Results.NoContent();
    }
}
