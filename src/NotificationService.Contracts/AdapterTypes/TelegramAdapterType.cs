namespace NotificationService.Contracts.AdapterTypes;

/// <summary>Telegram messages through a bot (Telegram.Bot), to api.telegram.org or a self-hosted Bot API server.</summary>
public static class TelegramAdapterType
{
    public const string Name = "telegram";

    public static readonly AdapterType Descriptor = new(Name, "Telegram messages sent by a bot (Telegram.Bot).",
        ConfigSchema: $$"""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["botToken"],
          "properties": {
            "botToken": { "type": "string", "minLength": 10, "writeOnly": true, "description": "The token @BotFather gave the bot" },
            "apiBaseUrl": {{HttpConfigSchema.Url("A self-hosted Bot API server (http:// or https://); default https://api.telegram.org")}},
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
            "chatId": { "oneOf": [ { "type": "integer" }, { "type": "string", "pattern": "^@[A-Za-z0-9_]{5,}$" } ],
                        "description": "A numeric chat id, or @channelusername" },
            "text": { "type": "string", "minLength": 1, "maxLength": 4096 },
            "parseMode": { "type": "string", "enum": ["MarkdownV2", "HTML", "Markdown"] },
            "disableNotification": { "type": "boolean" }
          }
        }
        """);
}
