namespace NotificationService.Contracts.AdapterTypes;

/// <summary>VK community messages through the VK API's <c>messages.send</c>.</summary>
public static class VkAdapterType
{
    public const string Name = "vk";
    public const string DefaultApiBaseUrl = "https://api.vk.com";
    public const string DefaultApiVersion = "5.199";

    public static readonly AdapterType Descriptor = new(Name, "VK messages sent by a community (VK API messages.send).",
        ConfigSchema: $$"""
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["accessToken"],
          "properties": {
            "accessToken": { "type": "string", "minLength": 1, "writeOnly": true, "description": "A community access token with the messages permission" },
            "apiBaseUrl": {{HttpConfigSchema.Url($"An http:// or https:// URL; default {DefaultApiBaseUrl}")}},
            "apiVersion": { "type": "string", "pattern": "^[0-9]+\\.[0-9]+$", "default": "{{DefaultApiVersion}}", "description": "The VK API version sent as v" },
            "allowPrivateNetwork": {{HttpConfigSchema.AllowPrivateNetwork}}
          }
        }
        """,
        ParamsSchema: """
        {
          "type": "object",
          "additionalProperties": false,
          "required": ["message"],
          "oneOf": [ { "required": ["peerId"] }, { "required": ["domain"] } ],
          "description": "peerId or domain, not both",
          "properties": {
            "peerId": { "type": "integer", "description": "A user id, 2000000000 + a chat id, or -a community id" },
            "domain": { "type": "string", "pattern": "^[A-Za-z0-9_.]{1,32}$", "description": "A user's screen name, e.g. durov" },
            "message": { "type": "string", "minLength": 1, "maxLength": 4096 },
            "attachment": { "type": "string", "minLength": 1, "description": "Comma-separated <type><owner_id>_<media_id>, e.g. photo-1_2" },
            "keyboard": { "type": "object", "description": "A VK bot keyboard; sent as its JSON text" },
            "disableMentions": { "type": "boolean" }
          }
        }
        """);
}
