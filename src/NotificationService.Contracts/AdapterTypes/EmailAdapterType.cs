namespace NotificationService.Contracts.AdapterTypes;

/// <summary>Email through an SMTP server.</summary>
public static class EmailAdapterType
{
    public const string Name = "email";

    public static readonly AdapterType Descriptor = new(Name, "Email through an SMTP server (MailKit).",
        ConfigSchema: """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["host", "port", "from"],
          "properties": {
            "host": { "type": "string", "minLength": 1, "description": "SMTP server host name" },
            "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
            "security": { "type": "string", "enum": ["none", "starttls", "tls"], "default": "starttls",
                          "description": "none: plain; starttls: upgrade after connect; tls: implicit TLS (port 465)" },
            "username": { "type": "string" },
            "password": { "type": "string", "writeOnly": true },
            "from": { "type": "string", "minLength": 3, "description": "Sender, e.g. \"Alerts <alerts@example.com>\"" }
          }
        }
        """,
        ParamsSchema: """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["to", "subject"],
          "anyOf": [ { "required": ["text"] }, { "required": ["html"] } ],
          "properties": {
            "to": { "oneOf": [
              { "type": "string", "format": "email" },
              { "type": "array", "minItems": 1, "items": { "type": "string", "format": "email" } } ] },
            "cc": { "oneOf": [
              { "type": "string", "format": "email" },
              { "type": "array", "items": { "type": "string", "format": "email" } } ] },
            "subject": { "type": "string", "minLength": 1, "maxLength": 998 },
            "text": { "type": "string" },
            "html": { "type": "string" }
          }
        }
        """);
}
