using System.Text.Json;
using Microsoft.Playwright;

namespace NotificationService.Core.Tests.Console;

/// <summary>
/// The console's form generator (pages/forms.js) in the browser, on a schema with every kind it draws: what control
/// each property gets, what a person's input reads back as, and the merge patch an edit sends.
/// </summary>
public sealed class when_a_form_is_generated_from_a_json_schema(SystemFixture system) : IntegrationContext(system)
{
    private const string Schema = """
        {"type": "object", "required": ["name"], "properties": {
          "name": {"type": "string", "description": "Who"},
          "count": {"type": "integer", "minimum": 1, "maximum": 5},
          "ratio": {"type": "number"},
          "on": {"type": "boolean"},
          "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
          "tags": {"type": "array", "items": {"type": "string"}},
          "inner": {"type": "object", "properties": {"x": {"type": "string"}}},
          "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
          "token": {"type": "string", "writeOnly": true}}}
        """;

    private static async Task<IPage> FormAsync(ConsoleBrowser browser, string options)
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(browser.ConsoleUrl);
        await page.EvaluateAsync($$"""
            async () => {
              const { schemaForm } = await import('/console/pages/forms.js');
              window.generated = schemaForm({{Schema}}, 'config', {{options}});
              document.body.append(window.generated.node);
            }
            """);
        return page;
    }

    private static async Task<JsonElement> ReadAsync(IPage page, string expression = "window.generated.read()") =>
        JsonDocument.Parse(await page.EvaluateAsync<string>($"async () => JSON.stringify({expression})")).RootElement;

    [Fact]
    public async Task each_kind_of_property_gets_its_control_and_reads_back_as_json_of_its_type()
    {
        var browser = await System.BrowserAsync();
        var page = await FormAsync(browser, "{ name: 'Config' }");

        Assert.Equal("text", await page.GetByLabel("name (required)").GetAttributeAsync("type"));
        Assert.Equal("true", await page.GetByLabel("name (required)").GetAttributeAsync("aria-required"));
        await Assertions.Expect(page.GetByText("Who.")).ToBeVisibleAsync(); // the description as the hint
        var count = page.GetByLabel("count", new() { Exact = true });
        Assert.Equal(("number", "1", "5"), (await count.GetAttributeAsync("type"), await count.EvaluateAsync<string>("e => e.min"), await count.EvaluateAsync<string>("e => e.max")));
        Assert.Equal("checkbox", await page.GetByLabel("on", new() { Exact = true }).GetAttributeAsync("type"));
        Assert.Equal("SELECT", await page.GetByLabel("mode", new() { Exact = true }).EvaluateAsync<string>("e => e.tagName"));
        Assert.Equal("TEXTAREA", await page.GetByLabel("tags", new() { Exact = true }).EvaluateAsync<string>("e => e.tagName"));
        await Assertions.Expect(page.GetByRole(AriaRole.Group, new() { Name = "inner" })).ToBeVisibleAsync(); // a fieldset
        Assert.Equal("TEXTAREA", await page.GetByLabel("either", new() { Exact = true }).EvaluateAsync<string>("e => e.tagName")); // JSON fallback
        Assert.Equal("password", await page.GetByLabel("token", new() { Exact = true }).GetAttributeAsync("type"));

        // Nothing typed: nothing sent, so the API applies its defaults.
        Assert.Equal("{}", (await ReadAsync(page)).GetRawText());

        await page.GetByLabel("name (required)").FillAsync("Ann");
        await page.GetByLabel("count", new() { Exact = true }).FillAsync("3");
        await page.GetByLabel("ratio", new() { Exact = true }).FillAsync("0.25");
        await page.GetByLabel("on", new() { Exact = true }).CheckAsync();
        await page.GetByLabel("mode", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "fast" });
        await page.GetByLabel("tags", new() { Exact = true }).FillAsync("a\n\n b \n");
        await page.GetByLabel("x", new() { Exact = true }).FillAsync("deep");
        await page.GetByLabel("either", new() { Exact = true }).FillAsync("42");
        await page.GetByLabel("token", new() { Exact = true }).FillAsync("s3cret");
        Assert.Equal("""{"name":"Ann","count":3,"ratio":0.25,"on":true,"mode":"fast","tags":["a","b"],"inner":{"x":"deep"},"either":42,"token":"s3cret"}""",
            (await ReadAsync(page)).GetRawText());

        // Bad JSON in a fallback area is the form's own error, naming the path, not a request.
        await page.GetByLabel("either", new() { Exact = true }).FillAsync("{oops");
        var error = await page.EvaluateAsync<string>("() => { try { window.generated.read(); return ''; } catch (e) { return JSON.stringify(e.problem.errors); } }");
        Assert.Contains("config.either", error);
    }

    [Fact]
    public async Task an_edit_starts_from_the_stored_values_without_secrets_and_patches_only_what_changed()
    {
        var browser = await System.BrowserAsync();
        const string stored = """{"name":"Ann","count":2,"on":true,"tags":["a"],"inner":{"x":"y"},"mode":"slow"}""";
        var page = await FormAsync(browser, $"{{ name: 'Config', initial: {stored}, editing: true, secretsSet: ['token'] }}");

        Assert.Equal("Ann", await page.GetByLabel("name (required)").InputValueAsync());
        Assert.Equal("", await page.GetByLabel("token", new() { Exact = true }).InputValueAsync());
        await Assertions.Expect(page.GetByText("A value is set: leave empty to keep it")).ToBeVisibleAsync();
        Assert.Equal("{}", (await ReadAsync(page, $"(await import('/console/pages/forms.js')).mergePatch({stored}, window.generated.read())")).GetRawText());

        await page.GetByLabel("tags", new() { Exact = true }).FillAsync("");
        await page.GetByLabel("on", new() { Exact = true }).UncheckAsync();
        await page.GetByLabel("x", new() { Exact = true }).FillAsync("z");
        await page.GetByLabel("count", new() { Exact = true }).FillAsync("4");
        // A field emptied is removed (null), the secret left empty is not sent (the stored one stays), the rest is untouched.
        Assert.Equal("""{"tags":null,"count":4,"on":false,"inner":{"x":"z"}}""",
            (await ReadAsync(page, $"(await import('/console/pages/forms.js')).mergePatch({stored}, window.generated.read())")).GetRawText());
        // An optional secret that is set can be removed on purpose.
        await page.GetByLabel("Remove the stored token").CheckAsync();
        Assert.Equal("""{"tags":null,"count":4,"on":false,"inner":{"x":"z"},"token":null}""",
            (await ReadAsync(page, $"(await import('/console/pages/forms.js')).mergePatch({stored}, window.generated.read())")).GetRawText());
    }

    [Fact]
    public async Task an_edit_keeps_stored_keys_the_form_does_not_draw_and_stored_empty_strings()
    {
        var browser = await System.BrowserAsync();
        const string stored = """{"name":"Ann","count":2,"inner":{"x":""},"legacy":"keep me"}""";
        var page = await FormAsync(browser, $"{{ name: 'Config', initial: {stored}, editing: true }}");

        await page.GetByLabel("count", new() { Exact = true }).FillAsync("5");
        // Only the field changed: not null for "legacy" (no schema property draws it), nor for the stored "" of inner.x.
        Assert.Equal("""{"count":5}""",
            (await ReadAsync(page, $"(await import('/console/pages/forms.js')).mergePatch({stored}, window.generated.read())")).GetRawText());
    }
}
