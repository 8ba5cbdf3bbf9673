using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// An accessibility smoke check of every page, in the browser: every form control and every button or link has an
/// accessible name (as chromium computes it for screen readers: its accessibility tree, over the DevTools protocol), each
/// page has exactly one h1, keyboard focus is drawn (a :focus-visible rule, and an outline on what Tab focuses), and the
/// main flows work from the keyboard alone.
/// </summary>
public sealed class when_the_console_is_used_with_assistive_technology(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>Roles whose elements a screen reader announces by name: without one, the control is "edit text", "button".</summary>
    private static readonly HashSet<string> NamedRoles =
        ["textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "spinbutton", "slider", "switch", "button", "link", "progressbar", "table"];

    /// <summary>The controls of the page chromium exposes without a name, as "role (its DOM tag, id, name)".</summary>
    private static async Task<List<string>> UnnamedAsync(IPage page)
    {
        var cdp = await page.Context.NewCDPSessionAsync(page);
        try
        {
            await cdp.SendAsync("Accessibility.enable");
            var tree = (await cdp.SendAsync("Accessibility.getFullAXTree"))!.Value;
            var unnamed = new List<(string Role, int? Node)>();
            foreach (var node in tree.GetProperty("nodes").EnumerateArray())
            {
                if (node.TryGetProperty("ignored", out var ignored) && ignored.GetBoolean()) continue;
                var role = node.TryGetProperty("role", out var r) && r.TryGetProperty("value", out var rv) ? rv.GetString() ?? "" : "";
                if (!NamedRoles.Contains(role)) continue;
                var name = node.TryGetProperty("name", out var n) && n.TryGetProperty("value", out var nv) ? nv.GetString() ?? "" : "";
                if (string.IsNullOrWhiteSpace(name))
                    unnamed.Add((role, node.TryGetProperty("backendDOMNodeId", out var id) ? id.GetInt32() : null));
            }
            var described = new List<string>();
            foreach (var (role, node) in unnamed)
            {
                var what = "";
                if (node is { } backend)
                {
                    var resolved = await cdp.SendAsync("DOM.describeNode", new() { ["backendNodeId"] = backend });
                    var dom = resolved!.Value.GetProperty("node");
                    var attributes = dom.TryGetProperty("attributes", out var a) ? a.EnumerateArray().Select(x => x.GetString()).ToList() : [];
                    what = $" ({dom.GetProperty("localName").GetString()} {string.Join(" ", attributes)})";
                }
                described.Add(role + what);
            }
            return described;
        }
        finally { await cdp.DetachAsync(); }
    }

    /// <summary>
    /// Opens a page by its address and waits until it is drawn: its heading shown, nothing "Loading…", and no admin API
    /// call of the page's in flight for half a second (a page draws some parts after its heading, as their answers come).
    /// </summary>
    private static async Task OpenAsync(ConsoleBrowser browser, IPage page, string hash, string heading)
    {
        var pending = new System.Collections.Concurrent.ConcurrentDictionary<IRequest, bool>();
        void Started(object? _, IRequest r) { if (new Uri(r.Url).AbsolutePath.StartsWith("/admin/")) pending[r] = true; }
        void Ended(object? _, IRequest r) => pending.TryRemove(r, out var _);
        page.Request += Started;
        page.RequestFinished += Ended;
        page.RequestFailed += Ended;
        try
        {
            await page.GotoAsync(browser.ConsoleUrl + hash);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Assertions.Expect(page.GetByText("Loading…")).ToHaveCountAsync(0);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            for (var quiet = 0; quiet < 5 && DateTime.UtcNow < deadline; quiet = pending.IsEmpty ? quiet + 1 : 0) await Task.Delay(100);
            Assert.True(pending.IsEmpty, $"{hash}: still waiting for {string.Join(", ", pending.Keys.Select(r => r.Url))}");
        }
        finally
        {
            page.Request -= Started;
            page.RequestFinished -= Ended;
            page.RequestFailed -= Ended;
        }
    }

    private static async Task AssertAccessibleAsync(IPage page, string where)
    {
        var unnamed = await UnnamedAsync(page);
        Assert.True(unnamed.Count == 0, $"{where}: controls without an accessible name: {string.Join("; ", unnamed)}");
        Assert.True(await page.Locator("h1").CountAsync() == 1, $"{where}: {await page.Locator("h1").CountAsync()} h1 elements");
    }

    [Fact]
    public async Task every_page_names_its_controls_and_has_one_h1()
    {
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "a11y@example.test") } });
        var jobId = offer.Jobs[0].Id;
        var key = $"a11y-{Guid.NewGuid():N}"[..16];
        var template = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/templates", SystemFixture.AdminKey, new
        {
            key, type = "email", defaultLocale = "en", services = new[] { System.Tenant.Id },
            variants = new Dictionary<string, object> { ["en"] = new { to = "{{ email }}", subject = "Hi", text = "hi" } },
        }, expect: 201);
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await page.GotoAsync(browser.ConsoleUrl);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await AssertAccessibleAsync(page, "#/signin");
        await browser.SignInAsync(page);

        (string Hash, string Heading)[] pages =
        [
            ("#/", "Overview"), ("#/services", "Services"), ($"#/services/{System.Tenant.Id}", $"Service {System.Tenant.Name}"),
            ("#/adapters", "Adapters"), ("#/adapters/new", "New adapter"), ($"#/adapters/{System.Email.Id}", $"Adapter {System.Email.Name}"),
            ("#/jobs", "Jobs"), ($"#/jobs/{jobId}", $"Job {jobId}"), ($"#/offers/{offer.Id}", $"Offer {offer.Id}"),
            ("#/operations", "Operations"), ("#/templates", "Shared templates"),
            ($"#/templates/{template.GetProperty("id").GetGuid()}", $"Template {key}"),
            ("#/erasures", "Erasures"),
        ];
        var failures = new List<string>();
        foreach (var (hash, heading) in pages)
        {
            try
            {
                await OpenAsync(browser, page, hash, heading);
                await AssertAccessibleAsync(page, hash);
            }
            catch (Exception e) when (e is Xunit.Sdk.XunitException or PlaywrightException or TimeoutException)
            {
                failures.Add(e.Message.Split('\n')[0]);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }

    [Fact]
    public async Task focus_is_drawn_and_sign_in_search_and_navigation_work_from_the_keyboard()
    {
        var browser = await System.BrowserAsync();
        var page = await browser.NewPageAsync();
        await page.GotoAsync(browser.ConsoleUrl);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        // The style sheet draws keyboard focus (the console's own sheet is same-origin, so its rules are readable).
        Assert.True(await page.EvaluateAsync<bool>("""
            () => [...document.styleSheets].some(sheet => [...sheet.cssRules].some(rule => (rule.selectorText || '').includes(':focus-visible')))
            """), "no :focus-visible rule");

        // Sign in with the keyboard alone: the key field has the focus, Tab goes to the button, Enter presses it.
        await Assertions.Expect(page.GetByLabel("Admin key")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(SystemFixture.AdminKey);
        await page.Keyboard.PressAsync("Tab");
        var signIn = page.GetByRole(AriaRole.Button, new() { Name = "Sign in" });
        await Assertions.Expect(signIn).ToBeFocusedAsync();
        Assert.Equal("solid 3px", await signIn.EvaluateAsync<string>("b => `${getComputedStyle(b).outlineStyle} ${getComputedStyle(b).outlineWidth}`"));
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Level = 1 })).ToBeVisibleAsync();

        // To the Jobs page by Tab and Enter: the skip link first, then the main navigation's links in order.
        var jobsLink = page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = "Jobs" });
        // From the skip link (where Tab starts on a fresh page; after sign-in the focus is in the page's content, whose
        // number of links depends on the data), four Tabs: Overview, Services, Adapters, Jobs.
        // The overview draws its heading before the rest of its data; once it is all drawn the app gives the page the
        // focus. Wait for that, or it lands in the middle of the Tabs below.
        await page.WaitForFunctionAsync("() => document.getElementById('main').contains(document.activeElement)");
        await page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" }).FocusAsync();
        foreach (var name in new[] { "Overview", "Services", "Adapters" })
        {
            await page.Keyboard.PressAsync("Tab");
            await Assertions.Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" }).GetByRole(AriaRole.Link, new() { Name = name, Exact = true })).ToBeFocusedAsync();
        }
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(jobsLink).ToBeFocusedAsync();
        Assert.NotEqual("none", await jobsLink.EvaluateAsync<string>("a => getComputedStyle(a).outlineStyle"));
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Jobs", Level = 1 })).ToBeVisibleAsync();
        // As on the overview: the page draws its form before its results, and once they are drawn the app gives the page
        // the focus if it is elsewhere. Typing before that could lose the focus midway (CI once timed out waiting for
        // the search's address after Enter).
        await Assertions.Expect(page.Locator("#jobs-count")).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("() => document.getElementById('main').contains(document.activeElement)");

        // A search submitted with Enter in a field: the filter goes into the address and the results follow it.
        var search = page.GetByRole(AriaRole.Form, new() { Name = "Search jobs" });
        await search.GetByLabel("Adapter", new() { Exact = true }).FocusAsync();
        await page.Keyboard.TypeAsync(System.Email.Name);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync($"**#/jobs?adapter={System.Email.Name}");
        await Assertions.Expect(page.Locator("#jobs-count")).ToHaveTextAsync("0 jobs match");
        Assert.DoesNotContain(browser.ErrorsOf(page), e => e.StartsWith("script error"));
    }
}
