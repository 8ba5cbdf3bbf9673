using System.Collections.Concurrent;
using System.Text.Json;
using NJsonSchema;
using NJsonSchema.Validation;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Parses JSON Schemas once per distinct text (adapter types' and adapters' params schemas are few and rarely change)
/// and turns NJsonSchema's errors into (path, message) pairs a client can act on.
/// </summary>
public sealed class JsonSchemas
{
    private readonly ConcurrentDictionary<string, Lazy<Task<JsonSchema>>> _parsed = new();

    public Task<JsonSchema> ParseAsync(string schemaJson) =>
        _parsed.GetOrAdd(schemaJson, json => new Lazy<Task<JsonSchema>>(() => JsonSchema.FromJsonAsync(json))).Value;

    /// <summary>Null when the text is a usable JSON Schema, else why not.</summary>
    public static async Task<string?> CheckIsSchemaAsync(string schemaJson)
    {
        try
        {
            var schema = await JsonSchema.FromJsonAsync(schemaJson);
            return schema.Type == JsonObjectType.None || schema.Type.HasFlag(JsonObjectType.Object)
                ? null : "A params schema must describe a JSON object.";
        }
        catch (Exception e) when (e is Newtonsoft.Json.JsonException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            return $"Not a valid JSON Schema: {e.Message}";
        }
    }

    public async Task<IReadOnlyList<(string Path, string Message)>> ValidateAsync(string schemaJson, JsonElement value, string pathPrefix)
    {
        var schema = await ParseAsync(schemaJson);
        var errors = schema.Validate(value.ValueKind == JsonValueKind.Undefined ? "null" : value.GetRawText());
        // For oneOf/anyOf the top-level error (not each branch's) says enough and keeps the list short.
        return errors.Select(e => (pathPrefix + ToPath(e), Describe(e))).Distinct().ToList();
    }

    private static string ToPath(ValidationError error)
    {
        var path = (error.Path ?? "#").TrimStart('#');
        if (error.Kind == ValidationErrorKind.PropertyRequired && error.Property is { } missing && !path.EndsWith("/" + missing, StringComparison.Ordinal))
            path += "/" + missing;
        return string.Concat(path.Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Select(segment => int.TryParse(segment, out _) ? $"[{segment}]" : "." + segment));
    }

    private static string Describe(ValidationError error) => error.Kind switch
    {
        ValidationErrorKind.PropertyRequired => "is required",
        ValidationErrorKind.NoAdditionalPropertiesAllowed => "is not a known property",
        ValidationErrorKind.StringExpected => "must be a string",
        ValidationErrorKind.IntegerExpected => "must be an integer",
        ValidationErrorKind.NumberExpected => "must be a number",
        ValidationErrorKind.BooleanExpected => "must be true or false",
        ValidationErrorKind.ObjectExpected => "must be an object",
        ValidationErrorKind.ArrayExpected => "must be an array",
        ValidationErrorKind.EmailExpected => "must be an email address",
        ValidationErrorKind.NotInEnumeration => "is not one of the allowed values",
        ValidationErrorKind.StringTooShort => "is too short",
        ValidationErrorKind.StringTooLong => "is too long",
        ValidationErrorKind.NumberTooSmall => "is too small",
        ValidationErrorKind.NumberTooBig => "is too big",
        ValidationErrorKind.TooFewItems => "has too few items",
        ValidationErrorKind.TooManyItems => "has too many items",
        ValidationErrorKind.NotAnyOf => "does not match any allowed shape",
        ValidationErrorKind.NotOneOf => "does not match exactly one allowed shape",
        // A pattern's description says in words what the regular expression wants.
        ValidationErrorKind.PatternMismatch when error.Schema?.Description is { Length: > 0 } wanted => $"does not match the required pattern: {wanted}",
        ValidationErrorKind.PatternMismatch => "does not match the required pattern",
        _ => $"is invalid ({error.Kind})",
    };
}
