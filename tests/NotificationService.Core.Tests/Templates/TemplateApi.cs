using System.Text.Json;

namespace NotificationService.Core.Tests.Templates;

/// <summary>Templates in the vocabulary of the tests.</summary>
public static class TemplateApi
{
    /// <summary>Templates outlive the per-test reset (like tenants and adapters), so each test uses keys of its own.</summary>
    public static string UniqueKey(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    public static Task<JsonElement> CreateTemplateAsync(this SystemFixture system, Tenant tenant, string key, string type, object variants, string defaultLocale = "en") =>
        system.SendAsync<JsonElement>(HttpMethod.Post, "/v1/templates", tenant.ApiKey, new { key, type, defaultLocale, variants }, expect: 201);

    /// <summary>An order-shipped email in English and German; <c>to</c> comes from data, the html part escapes it.</summary>
    public static object OrderShippedEmail => new Dictionary<string, object>
    {
        ["en"] = new { to = "{{ email }}", subject = "Order {{ order.id }} shipped", text = "Hello {{ name }}, order {{ order.id }} is on its way.", html = "<p>Hello {{ name }}</p>" },
        ["de"] = new { to = "{{ email }}", subject = "Bestellung {{ order.id }} versandt", text = "Hallo {{ name }}, Bestellung {{ order.id }} ist unterwegs.", html = "<p>Hallo {{ name }}</p>" },
    };

    public static object OrderShippedTelegram => new Dictionary<string, object>
    {
        ["en"] = new { chatId = "{{ chat }}", text = "Order {{ order.id }} shipped" },
        ["de"] = new { chatId = "{{ chat }}", text = "Bestellung {{ order.id }} versandt" },
    };
}
