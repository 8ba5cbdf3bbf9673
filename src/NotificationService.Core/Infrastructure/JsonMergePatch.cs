using System.Text.Json;
using System.Text.Json.Nodes;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// JSON merge patch (RFC 7396), the meaning of the objects a PATCH sends: a member left out keeps its value, a member set
/// to null is removed (so it falls back to its default), an object is merged member by member, anything else replaces.
/// </summary>
public static class JsonMergePatch
{
    public static JsonElement Apply(JsonElement target, JsonElement patch) =>
        JsonSerializer.SerializeToElement(Apply(JsonNode.Parse(target.ValueKind == JsonValueKind.Undefined ? "null" : target.GetRawText()), patch));

    private static JsonNode? Apply(JsonNode? target, JsonElement patch)
    {
        if (patch.ValueKind != JsonValueKind.Object) return JsonNode.Parse(patch.GetRawText());
        var result = target as JsonObject ?? new JsonObject();
        foreach (var member in patch.EnumerateObject())
        {
            if (member.Value.ValueKind == JsonValueKind.Null) result.Remove(member.Name);
            else
            {
                var merged = Apply(result[member.Name]?.DeepClone(), member.Value);
                result[member.Name] = merged;
            }
        }
        return result;
    }
}
