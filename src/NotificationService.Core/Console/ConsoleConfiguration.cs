using System.Security.Cryptography;
using Marten;
using Microsoft.AspNetCore.StaticFiles;
using NotificationService.Core.Auth;

namespace NotificationService.Core.Console;

public static class ConsoleConfiguration
{
    /// <summary>Console sessions: their documents, the cookie check the key handler asks, the files.</summary>
    public static IServiceCollection AddConsole(this IServiceCollection services)
    {
        services.ConfigureMarten(opts => opts.Schema.For<ConsoleSession>());
        services.AddSingleton<ConsoleSessions>().AddSingleton<IAdminSessions>(sp => sp.GetRequiredService<ConsoleSessions>());
        services.AddSingleton(ConsoleFiles.Load());
        return services;
    }

    /// <summary>
    /// <c>X-Content-Type-Options: nosniff</c> on every answer, not only the console's (first in the pipeline, so a 401 or an
    /// error page gets it too): a browser must never take an /admin JSON answer for a script or a page.
    /// </summary>
    public static WebApplication UseNoSniff(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                context.Response.Headers.XContentTypeOptions = "nosniff";
                return Task.CompletedTask;
            });
            return next(context);
        });
        return app;
    }

    /// <summary>
    /// The console's files at /console/ (index.html for /console and /console/), and the headers that keep them and the
    /// session answers safe: no inline script or framing, no referrer, no caching of session data; and nosniff on every answer.
    /// </summary>
    public static WebApplication MapConsole(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var path = context.Request.Path;
            if (path.StartsWithSegments("/console"))
                context.Response.OnStarting(() =>
                {
                    var headers = context.Response.Headers;
                    headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
                    headers.XFrameOptions = "DENY";
                    headers["Referrer-Policy"] = "no-referrer";
                    if (path.StartsWithSegments("/console/session")) headers.CacheControl = "no-store";
                    return Task.CompletedTask;
                });
            return next(context);
        });
        var files = app.Services.GetRequiredService<ConsoleFiles>();
        app.MapGet("/console", (HttpContext context) => files.Serve(context, "index.html")).ExcludeFromDescription().AllowAnonymous();
        app.MapGet("/console/{**path}", (HttpContext context, string? path) => files.Serve(context, string.IsNullOrEmpty(path) ? "index.html" : path))
            .ExcludeFromDescription().AllowAnonymous();
        return app;
    }
}

/// <summary>
/// The console's files, embedded in the core's assembly (Console/web, see the project file): one build serves them the
/// same way from `dotnet run`, the Release bin, a publish and the tests, with nothing to copy or to find on disk.
/// </summary>
public sealed class ConsoleFiles(IReadOnlyDictionary<string, ConsoleFiles.File> files)
{
    public sealed record File(byte[] Content, string ContentType, string ETag);

    private const string Prefix = "console/";

    public static ConsoleFiles Load()
    {
        var assembly = typeof(ConsoleFiles).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var files = new Dictionary<string, File>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var path = name[Prefix.Length..].Replace('\\', '/');
            var type = types.TryGetContentType(path, out var t) ? t : "application/octet-stream";
            if (type.StartsWith("text/", StringComparison.Ordinal) || type.EndsWith("javascript", StringComparison.Ordinal)) type += "; charset=utf-8";
            files[path] = new File(content, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }
        return new ConsoleFiles(files);
    }

    public IResult Serve(HttpContext context, string path)
    {
        if (!files.TryGetValue(path, out var file)) return Results.Problem(statusCode: 404, title: "Not found.", detail: "The console has no such file.");
        // Revalidated on every load (cheap with the ETag), so a new core's console is used at once.
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.ETag = file.ETag;
        if (context.Request.Headers.IfNoneMatch == file.ETag) return Results.StatusCode(304);
        return Results.Bytes(file.Content, file.ContentType);
    }
}
