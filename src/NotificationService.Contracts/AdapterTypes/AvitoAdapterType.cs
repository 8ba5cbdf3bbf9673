namespace NotificationService.Contracts.AdapterTypes;

/// <summary>Avito Messenger text messages, sent as the adapter's business account with a client-credentials token.</summary>
public static class AvitoAdapterType
{
    public const string Name = "avito";

    public static readonly AdapterType Descriptor = new(Name, "Avito Messenger messages sent with a client-credentials token.",
        ConfigSchema: $$"""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["clientId", "clientSecret", "userId"],
          "properties": {
            "clientId": { "type": "string", "minLength": 1 },
            "clientSecret": { "type": "string", "minLength": 1, "writeOnly": true },
            "userId": { "type": "integer", "minimum": 1, "description": "The account's numeric user_id that the chats belong to" },
            "apiBaseUrl": {{HttpConfigSchema.Url("An http:// or https:// URL; default https://api.avito.ru")}},
            "allowPrivateNetwork": {{HttpConfigSchema.AllowPrivateNetwork}}
          }
        }
        """,
        ParamsSchema: """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["chatId", "text"],
          "properties": {
            "chatId": { "type": "string", "minLength": 1, "description": "An Avito chat id, e.g. u2i-..." },
            "text": { "type": "string", "minLength": 1, "maxLength": 1000, "description": "Avito's own limit for a text message" }
          }
        }
        """);
}
