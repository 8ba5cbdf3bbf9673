using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using NotificationService.Testing;
using Wolverine;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The web console's browser tests: a real core (the same Program as the Alba host, with the same settings, database and
/// broker) listening on a free 127.0.0.1 port through Kestrel, and Debian's chromium (/usr/bin/chromium, headless, no
/// browser download) driven by Playwright. Each <see cref="NewPageAsync"/> is a fresh browser context (no cookies).
/// Get it with <c>await System.BrowserAsync()</c> from a test in the system collection (it is started once and shared).
/// </summary>
public sealed class ConsoleBrowser : IAsyncDisposable
{
    /// <summary>An admin key only this core has: a console session opened with it is one whose key another core lacks.</summary>
    public const string ConsoleOnlyAdminKey = "nsadmin_console-only-key";
    public const string Chromium = "/usr/bin/chromium";

    private readonly WebApplicationFactory<Program> _core;
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly ConcurrentDictionary<IPage, ConcurrentQueue<string>> _errors = new();

    /// <summary>The core's base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri BaseAddress { get; }
    public string ConsoleUrl => new Uri(BaseAddress, "/console/").ToString();
    public IServiceProvider Services => _core.Services;

    private ConsoleBrowser(WebApplicationFactory<Program> core, Uri baseAddress, IPlaywright playwright, IBrowser browser) =>
        (_core, BaseAddress, _playwright, _browser) = (core, baseAddress, playwright, browser);

    public static async Task<ConsoleBrowser> StartAsync(IEnumerable<(string Key, string Value)> settings, Action<WolverineOptions> wolverine)
    {
        if (!File.Exists(Chromium)) throw new InvalidOperationException($"{Chromium} is missing: apt-get install chromium chromium-driver (./ns test does it).");
        var core = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in settings) b.UseSetting(key, value);
            b.UseSetting("Admin:ApiKeys:9", ConsoleOnlyAdminKey);
            b.ConfigureServices(services => services.ConfigureWolverine(wolverine));
        });
        core.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        core.StartServer();
        var address = core.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var playwright = await Playwright.CreateAsync();
        // Playwright gives each launch a fresh temporary profile (user-data dir) and deletes it on close.
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
        return new ConsoleBrowser(core, new Uri(address.EndsWith('/') ? address : address + "/"), playwright, browser);
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
        await _core.DisposeAsync();
    }
}
