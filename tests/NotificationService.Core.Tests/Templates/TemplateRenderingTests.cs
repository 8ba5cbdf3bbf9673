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
    public void data_that_is_not_an_object_is_an_error()
    {
        var result = TemplateRendering.Render(Email("en", ("en", """{"text":"x"}""")), null, Json("[1]"), "targets[2]");
        Assert.Equal("targets[2].data", Assert.Single(result.Errors).Path);
    }
}
