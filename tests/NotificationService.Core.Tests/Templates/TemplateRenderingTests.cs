using System.Diagnostics;
using System.Text.Json;
using NotificationService.Core.Templates;

namespace NotificationService.Core.Tests.Templates;

/// <summary>The renderer alone: no host, milliseconds each.</summary>
public class TemplateRenderingTests
{
    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static Template Email(string defaultLocale = "en", params (string Locale, string Fields)[] variants) => new()
    {
        Id = Guid.NewGuid(), Key = "order-shipped", Type = "email", DefaultLocale = defaultLocale, Version = 1,
        Variants = variants.ToDictionary(v => v.Locale, v => Json(v.Fields)),
    };

    [Fact]
    public void string_values_are_liquid_and_other_values_are_copied()
    {
        var template = Email("en", ("en", """{"to":"{{ email }}","subject":"Order {{ order.id }} shipped","text":"{% for i in order.items %}{{ i.name }};{% endfor %}","priority":3}"""));
        var result = TemplateRendering.Render(template, null, Json("""{"email":"a@example.com","order":{"id":42,"items":[{"name":"x"},{"name":"y"}]}}"""), "targets[0]");
        Assert.True(result.Ok, string.Join(", ", result.Errors));
        Assert.Equal("""{"to":"a@example.com","subject":"Order 42 shipped","text":"x;y;","priority":3}""", result.Params.GetRawText());
    }

    [Fact]
    public void a_single_variable_passes_its_json_value_through()
    {
        var template = Email("en", ("en", """{"to":"{{ recipients }}","subject":"Hi","text":"{{ recipients | join: ', ' }}"}"""));
        var result = TemplateRendering.Render(template, "en", Json("""{"recipients":["a@example.com","b@example.com"]}"""), "targets[0]");
        Assert.Equal("""{"to":["a@example.com","b@example.com"],"subject":"Hi","text":"a@example.com, b@example.com"}""", result.Params.GetRawText());
    }

    [Fact]
    public void only_the_top_level_html_field_is_html_escaped()
    {
        var template = Email("en", ("en", """{"to":"a@example.com","subject":"{{ name }}","text":"{{ name }}","html":"<p>{{ name }}</p>"}"""));
        var result = TemplateRendering.Render(template, null, Json("""{"name":"<b>Tom & Jerry</b>"}"""), "t");
        Assert.Equal("<b>Tom & Jerry</b>", result.Params.GetProperty("subject").GetString());
        Assert.Equal("<b>Tom & Jerry</b>", result.Params.GetProperty("text").GetString());
        Assert.Equal("<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>", result.Params.GetProperty("html").GetString());
    }

    [Theory]
    [InlineData("de-AT", "de-AT", "Servus")]
    [InlineData("de-CH", "de", "Hallo")]
    [InlineData("de", "de", "Hallo")]
    [InlineData("fr-FR", "en", "Hello")]
    [InlineData(null, "en", "Hello")]
    [InlineData("DE-at", "de-AT", "Servus")] // Review 7: as the stored locales are spelled, whatever the case asked
    [InlineData("de-at", "de-AT", "Servus")]
    [InlineData("DE", "de", "Hallo")]
    [InlineData("De-ch", "de", "Hallo")]
    public void a_locale_falls_back_to_its_language_then_the_default(string? asked, string used, string text)
    {
        var template = Email("en", ("en", """{"text":"Hello"}"""), ("de", """{"text":"Hallo"}"""), ("de-AT", """{"text":"Servus"}"""));
        var result = TemplateRendering.Render(template, asked, default, "t");
        Assert.Equal(used, result.Locale);
        Assert.Equal(text, result.Params.GetProperty("text").GetString());
    }

    [Fact]
    public void a_parse_error_names_the_field_and_the_line_and_column()
    {
        var template = Email("en", ("en", "{\"subject\":\"ok\",\"html\":\"<p>\\n{% if x %}never closed\"}"));
        var result = TemplateRendering.Render(template, null, default, "targets[0]");
        var (path, message) = Assert.Single(result.Errors);
        Assert.Equal("targets[0].template.html", path);
        Assert.Contains("Liquid does not parse", message);
        Assert.Matches(@"\(2:\d+\)", message); // line 2
    }

    [Fact]
    public void nothing_of_dotnet_is_reachable_from_the_data()
    {
        // A string has no Length member to read, a dictionary no Count, and there is no file to include.
        var template = Email("en", ("en", """{"text":"[{{ name.Length }}][{{ order.Count }}][{{ order.GetType }}]"}"""));
        var result = TemplateRendering.Render(template, null, Json("""{"name":"abc","order":{"id":1}}"""), "t");
        Assert.Equal("[][][]", result.Params.GetProperty("text").GetString());
        var include = Email("en", ("en", """{"text":"{% include '/etc/passwd' %}"}"""));
        Assert.Contains("Liquid does not parse", Assert.Single(TemplateRendering.Render(include, null, default, "t").Errors).Message);
    }

    [Theory]
    [InlineData("{% for i in (1..100000000) %}x{% endfor %}")]
    [InlineData("{% for i in (1..100000000) %}{% endfor %}")]
    [InlineData("{% assign r = (1..2000000000) %}{{ r.size }}")]
    [InlineData("{% for i in (1..60000) %}{{ big }}{% endfor %}")]
    [InlineData("{% for i in (1..9000) %}{{ big }}{% endfor %}")]
    [InlineData("{% assign s = big %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s.size }}")]
    [InlineData("{{ big | replace: 'a', big }}")]
    [InlineData("{{ big | split: '' | join: big }}")]
    [InlineData("{% capture c %}{% for i in (1..9000) %}{{ big }}{% endfor %}{% endcapture %}")]
    public void a_hostile_template_fails_fast(string text)
    {
        var template = Email("en", ("en", JsonSerializer.Serialize(new { text })));
        var watch = Stopwatch.StartNew();
        var result = TemplateRendering.Render(template, null, Json(JsonSerializer.Serialize(new { big = new string('a', 4000) })), "targets[0]");
        watch.Stop();
        var (path, message) = Assert.Single(result.Errors);
        Assert.Equal("targets[0].template.text", path);
        Assert.True(watch.ElapsedMilliseconds < 2000, $"{watch.ElapsedMilliseconds} ms: {message}");
    }

    [Fact]
    public void a_filter_that_makes_a_nul_is_an_error_not_a_stored_nul()
    {
        var template = Email("en", ("en", """{"text":"{{ '%00' | url_decode }}"}"""));
        Assert.Contains("NUL", Assert.Single(TemplateRendering.Render(template, null, default, "t").Errors).Message);
    }

    [Fact]
    public void a_number_beyond_liquids_range_is_an_error_at_data_not_an_exception()
    {
        // Review 1: Liquid numbers are decimals; 1e30 is not one.
        var template = Email("en", ("en", """{"text":"{{ n }}"}"""));
        var (path, message) = Assert.Single(TemplateRendering.Render(template, null, Json("""{"n":1e30}"""), "targets[0]").Errors);
        Assert.Equal("targets[0].data", path);
        Assert.Contains("1e30", message);
    }

    [Fact]
    public void an_index_past_ints_range_is_not_an_exception()
    {
        // Review 2: the pass-through lookup parsed the index with int.Parse.
        var template = Email("en", ("en", """{"text":"{{ a[99999999999] }}","to":"{{a[0]}}"}"""));
        var result = TemplateRendering.Render(template, null, Json("""{"a":[1]}"""), "t");
        Assert.Equal("t.template.text", Assert.Single(result.Errors).Path);
    }

    [Fact]
    public void the_step_budget_is_shared_by_all_strings_of_a_variant()
    {
        // Review 3: 20 strings of 900 steps each are within the limit one by one, not together.
        var fields = Enumerable.Range(0, 20).ToDictionary(i => $"f{i}", _ => "{% for i in (1..900) %}{% endfor %}");
        var template = Email("en", ("en", JsonSerializer.Serialize(fields)));
        var result = TemplateRendering.Render(template, null, default, "t");
        Assert.False(result.Ok);
        Assert.Contains("steps", result.Errors[0].Message);
        var fewer = Email("en", ("en", JsonSerializer.Serialize(fields.Take(3).ToDictionary())));
        Assert.True(TemplateRendering.Render(fewer, null, default, "t").Ok);
    }

    [Fact]
    public void rendering_stops_once_the_params_are_over_the_byte_limit()
    {
        // Review 3: 2,000 strings each passing a 10 KB value through would be 20 MB of params; it stops near 50 KB.
        var fields = Enumerable.Range(0, 2000).ToDictionary(i => $"f{i}", i => i % 2 == 0 ? "{{ list }}" : "{{ text }}");
        var template = Email("en", ("en", JsonSerializer.Serialize(fields)));
        var data = Json(JsonSerializer.Serialize(new { list = Enumerable.Repeat(new string('a', 1000), 10), text = new string('b', 10_000) }));
        var watch = Stopwatch.StartNew();
        var result = TemplateRendering.Render(template, null, data, "targets[0]", maxBytes: 50_000);
        watch.Stop();
        var (path, message) = Assert.Single(result.Errors);
        Assert.Equal("targets[0].template", path);
        Assert.Contains("50000 bytes", message);
        Assert.True(watch.ElapsedMilliseconds < 500, $"{watch.ElapsedMilliseconds} ms");
        Assert.True(TemplateRendering.Render(template, null, data, "targets[0]", maxBytes: 30_000_000).Ok);
    }

    [Fact]
    public void the_parsed_template_cache_is_bounded_by_its_characters()
    {
        // Review 14: 10,000 entries of 64 KB each would be 640 MB; what it keeps is bounded by MaxCachedChars.
        for (var i = 0; i < 200; i++)
            Assert.True(TemplateRendering.TryParse($"{i} {new string('x', 60_000)}", out _, out _));
        Assert.InRange(TemplateRendering.CachedChars, 1, TemplateRendering.MaxCachedChars);
    }

    [Fact]
    public void data_that_is_not_an_object_is_an_error()
    {
        var result = TemplateRendering.Render(Email("en", ("en", """{"text":"x"}""")), null, Json("[1]"), "targets[2]");
        Assert.Equal("targets[2].data", Assert.Single(result.Errors).Path);
    }
}
