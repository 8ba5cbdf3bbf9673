namespace NotificationService.Contracts.AdapterTypes;

/// <summary>
/// JSON POSTed to a configured URL, signed: header <c>X-NS-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256&gt;</c> over
/// "&lt;t&gt;.&lt;body&gt;" with the adapter's secret, so the receiver can check origin and freshness.
/// </summary>
public static class WebhookAdapterType
{
    public const string Name = "webhook";
    public const string SignatureHeader = "X-NS-Signature";
    /// <summary>The job: the same on every attempt and redelivery of one notification, so a receiver de-duplicates by it.</summary>
    public const string JobHeader = "X-NS-Job";
    /// <summary>One attempt: "&lt;job id&gt;.&lt;attempt&gt;", new for each attempt (a redelivery after a crash is a new attempt).</summary>
    public const string DeliveryHeader = "X-NS-Delivery";

    public static readonly AdapterType Descriptor = new(Name, "Signed JSON POSTed to an HTTP endpoint.",
        ConfigSchema: $$"""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["url", "secret"],
          "properties": {
            "url": {{HttpConfigSchema.Url("An http:// or https:// URL")}},
            "secret": { "type": "string", "minLength": 16, "writeOnly": true, "description": "HMAC-SHA256 key for the signature header" },
            "timeoutSeconds": { "type": "number", "exclusiveMinimum": 0, "maximum": 300, "default": 10 },
            "allowPrivateNetwork": {{HttpConfigSchema.AllowPrivateNetwork}}
          }
        }
        """,
        ParamsSchema: """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["payload"],
          "properties": {
            "payload": { "type": "object", "description": "Any JSON object; it is the body of the POST" }
          }
        }
        """);
}
