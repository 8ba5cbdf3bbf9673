namespace NotificationService.Contracts.AdapterTypes;

/// <summary>
/// A kind of channel (email, telegram, ...). <see cref="ConfigSchema"/> is what an admin fills in when creating an
/// adapter of this type; config properties marked <c>"writeOnly": true</c> are secrets, never returned and encrypted
/// at rest. <see cref="ParamsSchema"/> is the default schema of what clients pass per job.
/// </summary>
public sealed record AdapterType(string Name, string Description, string ConfigSchema, string ParamsSchema)
{
    /// <summary>The config properties marked <c>"writeOnly": true</c>: secrets.</summary>
    public IReadOnlyList<string> SecretFields { get; } = System.Text.Json.JsonDocument.Parse(ConfigSchema).RootElement
        .GetProperty("properties").EnumerateObject()
        .Where(p => p.Value.TryGetProperty("writeOnly", out var w) && w.ValueKind == System.Text.Json.JsonValueKind.True)
        .Select(p => p.Name).ToList();
}

/// <summary>Every adapter type the system knows. A new type adds its descriptor here and its worker project.</summary>
public static class KnownAdapterTypes
{
    public static IReadOnlyList<AdapterType> All { get; } =
        [EmailAdapterType.Descriptor, TelegramAdapterType.Descriptor, SmsAdapterType.Descriptor, WebhookAdapterType.Descriptor,
         VkAdapterType.Descriptor, AvitoAdapterType.Descriptor];

    public static AdapterType? Find(string name) =>
        All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Config schema properties every HTTP channel shares, so the URL rule and the private-network switch are written once
/// (OutboundHttp enforces both again when it connects).
/// </summary>
public static class HttpConfigSchema
{
    /// <summary>An http:// or https:// URL with a host.</summary>
    public static string Url(string description) =>
        $$"""{ "type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]+", "description": "{{description}}" }""";

    public const string AllowPrivateNetwork =
        """{ "type": "boolean", "default": false, "description": "Allow loopback, link-local and private addresses (checked on every connect)" }""";
}
