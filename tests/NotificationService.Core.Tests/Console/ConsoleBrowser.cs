using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The web console's browser tests: Debian's chromium (/usr/bin/chromium, headless, no browser download) driven by
/// Playwright against the test system's own core (the Alba host), which a browser cannot reach in memory: a small
/// forwarder on a free 127.0.0.1 port passes each request to the core's test server and its answer back. So there is
/// one core: what a test sends with the API, tracked sessions and the browser all see the same node.
/// Each <see cref="NewPageAsync"/> is a fresh browser context (no cookies).
/// Get it with <c>await System.BrowserAsync()</c> from a test in the system collection (it is started once and shared).
/// </summary>
public sealed class ConsoleBrowser : IAsyncDisposable
{
    public const string Chromium = "/usr/bin/chromium";

    private readonly WebApplication _forwarder;
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly ConcurrentDictionary<IPage, ConcurrentQueue<string>> _errors = new();

    /// <summary>The forwarder's base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri BaseAddress { get; }
    public string ConsoleUrl => new Uri(BaseAddress, "/console/").ToString();

    /// <summary>An id as the console's lists show it (ui.js shortId): its last eight hex digits.</summary>
    public static string ShortId(Guid id) => id.ToString()[^8..];

    private ConsoleBrowser(WebApplication forwarder, Uri baseAddress, IPlaywright playwright, IBrowser browser) =>
        (_forwarder, BaseAddress, _playwright, _browser) = (forwarder, baseAddress, playwright, browser);

    public static async Task<ConsoleBrowser> StartAsync(TestServer core)
    {
        if (!File.Exists(Chromium)) throw new InvalidOperationException($"{Chromium} is missing: apt-get install chromium chromium-driver (./ns test does it).");
        var forwarder = await LoopbackForwarder.StartAsync(core);
        var address = forwarder.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var playwright = await Playwright.CreateAsync();
        // Playwright gives each launch a fresh temporary profile (user-data dir) and deletes it on close.
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        return new ConsoleBrowser(forwarder, new Uri(address.EndsWith('/') ? address : address + "/"), playwright, browser);
    }

    /// <summary>A page in a fresh context (no cookies) at 1280x800; script errors and failed requests are kept for <see cref="ErrorsOf"/>.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 800 }, Locale = "en-GB", TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        var errors = _errors[page] = new ConcurrentQueue<string>();
        page.PageError += (_, error) => errors.Enqueue($"script error: {error}");
        page.Console += (_, message) => { if (message.Type == "error") errors.Enqueue($"console error: {message.Text}"); };
        return page;
    }

    /// <summary>Script errors and console errors the page logged (a 4xx the page showed on purpose logs "Failed to load resource").</summary>
    public IReadOnlyList<string> ErrorsOf(IPage page) => _errors.TryGetValue(page, out var errors) ? errors.ToList() : [];

    /// <summary>Opens the console and signs in through its form, as a person would; returns when the overview shows.</summary>
    public async Task SignInAsync(IPage page, string key = SystemFixture.AdminKey)
    {
        await page.GotoAsync(ConsoleUrl);
        await page.GetByLabel("Admin key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();
    }

    /// <summary>A full-page screenshot to .local/console-screenshots/&lt;name&gt;.png, for a reviewer (never committed).</summary>
    public async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(WorkerProcess.RepositoryRoot(), ".local", "console-screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
        await _forwarder.StopAsync();
        await _forwarder.DisposeAsync();
    }
}

/// <summary>
/// A Kestrel listener on 127.0.0.1:0 whose one handler sends each request (method, path and query, headers, body) to a
/// test server and copies the answer (status, headers including every Set-Cookie, body) back, leaving out the
/// hop-by-hop headers, which belong to each connection and not to the request.
/// </summary>
internal static class LoopbackForwarder
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };

    public static async Task<WebApplication> StartAsync(TestServer target)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        // The browser connects from 127.0.0.1, so the core sees that address (its sign-in throttle counts by address).
        var client = new HttpClient(target.CreateHandler(c => c.Connection.RemoteIpAddress = IPAddress.Loopback))
        {
            BaseAddress = target.BaseAddress, Timeout = Timeout.InfiniteTimeSpan,
        };
        app.Run(context => ForwardAsync(context, client));
        await app.StartAsync();
        return app;
    }

    private static async Task ForwardAsync(HttpContext context, HttpClient client)
    {
        var incoming = context.Request;
        using var request = new HttpRequestMessage(new HttpMethod(incoming.Method), incoming.Path.ToUriComponent() + incoming.QueryString.ToUriComponent());
        var body = new MemoryStream();
        await incoming.Body.CopyToAsync(body, context.RequestAborted);
        if (body.Length > 0 || incoming.ContentLength is not null || incoming.ContentType is not null)
            request.Content = new ByteArrayContent(body.ToArray());
        foreach (var (name, values) in incoming.Headers)
        {
            if (HopByHop.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            if (!request.Headers.TryAddWithoutValidation(name, values.ToArray()))
                request.Content?.Headers.TryAddWithoutValidation(name, values.ToArray());
        }

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        var bodiless = response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotModified; // Kestrel refuses a length on these
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (HopByHop.Contains(name) || (bodiless && name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))) continue;
            context.Response.Headers[name] = values.ToArray();
        }
        if (!bodiless && !HttpMethods.IsHead(incoming.Method)) await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }
}
