namespace NotificationService.Contracts.AdapterTypes;

/// <summary>SMS through any gateway that speaks the Twilio Messages REST shape.</summary>
public static class SmsAdapterType
{
    public const string Name = "sms";

    public static readonly AdapterType Descriptor = new(Name, "SMS through a Twilio-compatible Messages API.",
        ConfigSchema: $$"""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["baseUrl", "accountSid", "authToken", "from"],
          "properties": {
            "baseUrl": {{HttpConfigSchema.Url("An http:// or https:// URL, e.g. https://api.twilio.com")}},
            "accountSid": { "type": "string", "minLength": 1 },
            "authToken": { "type": "string", "minLength": 1, "writeOnly": true },
            "from": { "type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$", "description": "Sender number in E.164" },
            "allowPrivateNetwork": {{HttpConfigSchema.AllowPrivateNetwork}}
          }
        }
        """,
        ParamsSchema: """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["to", "text"],
          "properties": {
            "to": { "type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$", "description": "Recipient number in E.164" },
            "text": { "type": "string", "minLength": 1, "maxLength": 1600 }
          }
        }
        """);
}
