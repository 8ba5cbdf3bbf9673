using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace NotificationService.Core.Tests.Templates;

public sealed class when_templates_are_managed(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_template_is_created_read_listed_changed_and_deleted_with_its_history()
    {
        var key = TemplateApi.UniqueKey("crud");
        var created = await System.CreateTemplateAsync(System.Tenant, key, "email", TemplateApi.OrderShippedEmail);
        Assert.Equal(1, created.GetProperty("version").GetInt64());

        var read = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/templates/{key}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal("email", read.GetProperty("type").GetString());
        Assert.Equal(["de", "en"], read.GetProperty("variants").EnumerateObject().Select(p => p.Name).Order());

        // Locale tags are kept in one spelling; null removes a locale; the default moves to one that has a variant.
        var changed = await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/templates/{key}", System.Tenant.ApiKey, new
        {
            variants = new Dictionary<string, object?> { ["DE-at"] = new { to = "{{ email }}", subject = "Servus", text = "Servus" }, ["en"] = null },
            defaultLocale = "de",
        }, expect: 200);
        Assert.Equal(4, changed.GetProperty("version").GetInt64());
        Assert.Equal(["de", "de-AT"], changed.GetProperty("variants").EnumerateObject().Select(p => p.Name).Order());

        var list = await System.SendAsync<JsonElement>(HttpMethod.Get, "/v1/templates?pageSize=200", System.Tenant.ApiKey, expect: 200);
        var mine = Assert.Single(list.GetProperty("items").EnumerateArray(), t => t.GetProperty("key").GetString() == key);
        Assert.Equal(4, mine.GetProperty("version").GetInt64());

        var history = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/templates/{key}/history", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(["TemplateCreated", "TemplateVariantChanged", "TemplateVariantChanged", "TemplateDefaultLocaleChanged"],
            history.EnumerateArray().Select(e => e.GetProperty("type").GetString()));

        await System.SendAsync<JsonElement>(HttpMethod.Delete, $"/v1/templates/{key}", System.Tenant.ApiKey, expect: 200);
        await System.ScenarioAsync(HttpMethod.Get, $"/v1/templates/{key}", System.Tenant.ApiKey, expect: 404);
        // The key is free again.
        await System.CreateTemplateAsync(System.Tenant, key, "sms", new Dictionary<string, object> { ["en"] = new { to = "{{ phone }}", text = "hi" } });
    }

    [Fact]
    public async Task a_bad_template_is_refused_with_the_field_and_liquid_position()
    {
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/templates", System.Tenant.ApiKey, new
        {
            key = "Bad Key", type = "fax", defaultLocale = "fr",
            variants = new Dictionary<string, object> { ["en"] = new { subject = "ok", html = "<p>\n{% if x %}never closed" }, ["not a locale"] = new { } },
        });
        Assert.Equal(422, status);
        var errors = body.GetProperty("errors");
        Assert.True(errors.TryGetProperty("key", out _));
        Assert.True(errors.TryGetProperty("type", out _));
        Assert.True(errors.TryGetProperty("variants.not a locale", out _));
        Assert.Equal("'fr' has no variant.", errors.GetProperty("defaultLocale")[0].GetString());
        Assert.Matches(@"^Liquid does not parse: .*\(2:\d+\)", errors.GetProperty("variants.en.html")[0].GetString());

        var huge = new Dictionary<string, object> { ["en"] = new { text = new string('x', 70 * 1024) } };
        (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/templates", System.Tenant.ApiKey,
            new { key = TemplateApi.UniqueKey("huge"), type = "sms", defaultLocale = "en", variants = huge });
        Assert.Equal(422, status);
        Assert.StartsWith("At most 65536 bytes", body.GetProperty("errors").GetProperty("variants")[0].GetString());
    }

    [Fact]
    public async Task a_key_is_unique_per_service_but_another_service_may_use_it()
    {
        var key = TemplateApi.UniqueKey("dup");
        await System.CreateTemplateAsync(System.Tenant, key, "sms", new Dictionary<string, object> { ["en"] = new { to = "{{ phone }}", text = "a" } });
        var (status, _) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/templates", System.Tenant.ApiKey,
            new { key, type = "sms", defaultLocale = "en", variants = new Dictionary<string, object> { ["en"] = new { text = "b" } } });
        Assert.Equal(409, status);

        var other = await System.CreateTenantAsync(TemplateApi.UniqueKey("other"));
        await System.CreateTemplateAsync(other, key, "sms", new Dictionary<string, object> { ["en"] = new { to = "{{ phone }}", text = "theirs" } });
        // Neither sees the other's.
        var mine = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/templates/{key}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal("a", mine.GetProperty("variants").GetProperty("en").GetProperty("text").GetString());
        await System.ScenarioAsync(HttpMethod.Patch, $"/v1/templates/{TemplateApi.UniqueKey("none")}", other.ApiKey, new { defaultLocale = "en" }, expect: 404);
    }

    [Fact]
    public async Task a_preview_renders_and_checks_without_sending()
    {
        var key = TemplateApi.UniqueKey("preview");
        await System.CreateTemplateAsync(System.Tenant, key, "email", TemplateApi.OrderShippedEmail);

        var preview = await System.SendAsync<JsonElement>(HttpMethod.Post, $"/v1/templates/{key}/preview", System.Tenant.ApiKey,
            new { locale = "de-CH", data = new { email = "x@example.test", name = "<Eva>", order = new { id = 3 } }, adapter = System.Email.Name }, expect: 200);
        Assert.Equal("de", preview.GetProperty("locale").GetString());
        Assert.Equal(1, preview.GetProperty("version").GetInt64());
        Assert.Equal("Bestellung 3 versandt", preview.GetProperty("params").GetProperty("subject").GetString());
        Assert.Equal("<p>Hallo &lt;Eva&gt;</p>", preview.GetProperty("params").GetProperty("html").GetString());
        Assert.Empty(System.Smtp.Received);

        var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, $"/v1/templates/{key}/preview", System.Tenant.ApiKey,
            new { data = new { order = new { id = 3 } } });
        Assert.Equal(422, status);
        Assert.True(body.GetProperty("errors").TryGetProperty("template.to", out _), body.ToString());
    }

    [Fact]
    public async Task a_shared_template_is_seen_by_the_services_granted_it_and_a_services_own_key_wins()
    {
        var key = TemplateApi.UniqueKey("shared");
        var granted = await System.CreateTenantAsync(TemplateApi.UniqueKey("granted"));
        var outsider = await System.CreateTenantAsync(TemplateApi.UniqueKey("outsider"));
        var shared = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/templates", SystemFixture.AdminKey, new
        {
            key, type = "email", defaultLocale = "en", services = new[] { granted.Id, System.Tenant.Id },
            variants = new Dictionary<string, object> { ["en"] = new { to = "{{ email }}", subject = "Shared", text = "shared" } },
        }, expect: 201);
        var id = shared.GetProperty("id").GetGuid();

        var seen = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/templates/{key}", granted.ApiKey, expect: 200);
        Assert.True(seen.GetProperty("shared").GetBoolean());
        await System.ScenarioAsync(HttpMethod.Get, $"/v1/templates/{key}", outsider.ApiKey, expect: 404);
        // Read-only to a service.
        await System.ScenarioAsync(HttpMethod.Delete, $"/v1/templates/{key}", granted.ApiKey, expect: 404);

        // The granted service renders it in an offer; one with its own template of that key gets its own.
        await System.CreateTemplateAsync(System.Tenant, key, "email", new Dictionary<string, object> { ["en"] = new { to = "{{ email }}", subject = "Own", text = "own" } });
        var own = await System.SendAsync<JsonElement>(HttpMethod.Post, $"/v1/templates/{key}/preview", System.Tenant.ApiKey, new { data = new { email = "a@example.test" } }, expect: 200);
        Assert.Equal("Own", own.GetProperty("params").GetProperty("subject").GetString());
        var listed = await System.SendAsync<JsonElement>(HttpMethod.Get, "/v1/templates?pageSize=200", System.Tenant.ApiKey, expect: 200);
        Assert.False(Assert.Single(listed.GetProperty("items").EnumerateArray(), t => t.GetProperty("key").GetString() == key).GetProperty("shared").GetBoolean());

        var (status, _) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", outsider.ApiKey,
            new { targets = new[] { new { adapter = System.Email.Name, template = key, data = new { email = "a@example.test" } } } });
        Assert.Equal(422, status);
        var accepted = await System.SendAsync<JsonElement>(HttpMethod.Post, "/v1/offers", granted.ApiKey,
            new { sendAt = DateTimeOffset.UtcNow.AddHours(1), targets = new[] { new { adapter = System.Email.Name, template = key, data = new { email = "a@example.test" } } } }, expect: 202);
        var offer = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{accepted.GetProperty("id").GetGuid()}", granted.ApiKey, expect: 200);
        Assert.True(offer.GetProperty("templates")[0].GetProperty("shared").GetBoolean());
        Assert.Equal(id, offer.GetProperty("templates")[0].GetProperty("templateId").GetGuid()); // Review 16: which template of that key

        var adminList = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/templates?pageSize=200", SystemFixture.AdminKey, expect: 200);
        Assert.Contains(adminList.GetProperty("items").EnumerateArray(), t => t.GetProperty("id").GetGuid() == id);
        var adminGet = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/templates/{id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(2, adminGet.GetProperty("services").GetArrayLength());
        await System.SendAsync<JsonElement>(HttpMethod.Delete, $"/admin/templates/{id}", SystemFixture.AdminKey, expect: 200);
        await System.ScenarioAsync(HttpMethod.Get, $"/v1/templates/{key}", granted.ApiKey, expect: 404);
    }

    [Fact]
    public async Task a_shared_templates_history_shows_a_service_neither_the_other_grants_nor_the_operator()
    {
        // Review 8: TemplateCreated names every granted service and the admin who made it.
        var key = TemplateApi.UniqueKey("shared-history");
        var first = await System.CreateTenantAsync(TemplateApi.UniqueKey("first"));
        var second = await System.CreateTenantAsync(TemplateApi.UniqueKey("second"));
        var shared = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/templates", SystemFixture.AdminKey, new
        {
            key, type = "email", defaultLocale = "en", services = new[] { first.Id, second.Id },
            variants = new Dictionary<string, object> { ["en"] = new { to = "{{ email }}", subject = "Shared", text = "shared" } },
        }, expect: 201);
        var adminHistory = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/templates/{shared.GetProperty("id").GetGuid()}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(2, adminHistory.GetProperty("services").GetArrayLength());

        var history = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/templates/{key}/history", first.ApiKey, expect: 200);
        var created = Assert.Single(history.EnumerateArray());
        Assert.Equal("TemplateCreated", created.GetProperty("type").GetString());
        var text = history.GetRawText();
        Assert.DoesNotContain(second.Id.ToString(), text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(first.Id.ToString(), text, StringComparison.OrdinalIgnoreCase);
        Assert.False(created.GetProperty("data").TryGetProperty("sharedWith", out _), text);
        Assert.Equal("admin", created.GetProperty("data").GetProperty("by").GetString());
        Assert.Equal("Shared", created.GetProperty("data").GetProperty("variants").GetProperty("en").GetProperty("subject").GetString());
    }

    [Fact]
    public async Task hostile_templates_are_fast_422s_never_500s()
    {
        // Stored NUL or lone surrogate: refused at the body check like in any other request.
        foreach (var text in new[] { "a\\u0000b", "a\\ud800b" })
        {
            var body = "{\"key\":\"" + TemplateApi.UniqueKey("nul") + "\",\"type\":\"sms\",\"defaultLocale\":\"en\",\"variants\":{\"en\":{\"to\":\"+15550001111\",\"text\":\"" + text + "\"}}}";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/templates") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", System.Tenant.ApiKey);
            using var response = await System.Http.SendAsync(request);
            var problem = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == 422, problem);
            Assert.Contains("variants.en.text", problem);
        }

        // Saved fine, but a loop or an output too big for any message: each preview is a 422 in well under a second.
        var key = TemplateApi.UniqueKey("hostile");
        await System.CreateTemplateAsync(System.Tenant, key, "sms", new Dictionary<string, object>
        {
            ["en"] = new { to = "+15550001111", text = "{% for i in (1..100000000) %}x{% endfor %}" },
            ["de"] = new { to = "+15550001111", text = "{% for i in (1..9999) %}{{ big }}{{ big }}{% endfor %}" },
            ["fr"] = new { to = "+15550001111", text = "{% assign s = big %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s }}" },
        });
        foreach (var locale in new[] { "en", "de", "fr" })
        {
            var watch = Stopwatch.StartNew();
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, $"/v1/templates/{key}/preview", System.Tenant.ApiKey,
                new { locale, data = new { big = new string('a', 1000) } });
            watch.Stop();
            Assert.Equal(422, status);
            Assert.StartsWith("Rendering failed:", problem.GetProperty("errors").GetProperty("template.text")[0].GetString());
            Assert.True(watch.ElapsedMilliseconds < 1000, $"{locale}: {watch.ElapsedMilliseconds} ms");
        }
    }
}
