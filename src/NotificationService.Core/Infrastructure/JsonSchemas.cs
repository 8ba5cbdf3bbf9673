using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
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

    // JsonSchema.Validate builds a new validator per call, and with it the map of its format validators: a third of what
    // a target's validation allocated (3.8 of 11.5 KB). The validator keeps no state between calls (only that map and
    // its settings), so one serves every request. Its settings carry the default format validators (email, uri, ...),
    // which the parameterless constructor would leave out.
    private static readonly JsonSchemaValidator Validator = new(new JsonSchemaValidatorSettings());

    public Task<JsonSchema> ParseAsync(string schemaJson) =>
        _parsed.GetOrAdd(schemaJson, json => new Lazy<Task<JsonSchema>>(() => JsonSchema.FromJsonAsync(json))).Value;

    // NJsonSchema compiles almost anything ({"type":"banana"} becomes a schema that accepts every value), so a stored
    // schema is first checked against the draft-07 meta-schema, then its regular expressions are compiled.
    private static readonly Lazy<Task<JsonSchema>> MetaSchema = new(() =>
    {
        using var stream = typeof(JsonSchemas).Assembly.GetManifestResourceStream("json-schema-draft-07.json")!;
        return JsonSchema.FromJsonAsync(new StreamReader(stream).ReadToEnd());
    });

    /// <summary>
    /// Why the text is not a usable params schema, as (path, message) pairs under <paramref name="pathPrefix"/>; empty
    /// when it is one: a valid draft-07 JSON Schema for a JSON object, with only local references and valid patterns.
    /// </summary>
    public static async Task<IReadOnlyList<(string Path, string Message)>> CheckIsSchemaAsync(string schemaJson, string pathPrefix)
    {
        var metaErrors = Validator.Validate(schemaJson, await MetaSchema.Value).SelectMany(Leaves)
            .Select(e => (pathPrefix + ToPath(e), DescribeSchemaError(e))).Distinct().ToList();
        if (metaErrors.Count > 0) return metaErrors;
        using var document = JsonDocument.Parse(schemaJson);
        var keywordErrors = CheckKeywords(document.RootElement, pathPrefix).ToList();
        if (keywordErrors.Count > 0) return keywordErrors;
        try
        {
            var schema = await JsonSchema.FromJsonAsync(schemaJson);
            return schema.Type == JsonObjectType.None || schema.Type.HasFlag(JsonObjectType.Object)
                ? [] : [(pathPrefix, "A params schema must describe a JSON object.")];
        }
        catch (Exception e) when (e is Newtonsoft.Json.JsonException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            return [(pathPrefix, $"Not a valid JSON Schema: {e.Message}")];
        }
    }

    // A failed allOf, or a failed member of an object or array, says little; the errors inside it name the keyword.
    private static IEnumerable<ValidationError> Leaves(ValidationError error) =>
        error is ChildSchemaValidationError child && error.Kind is ValidationErrorKind.NotAllOf or ValidationErrorKind.AdditionalPropertiesNotValid
            or ValidationErrorKind.ArrayItemNotValid or ValidationErrorKind.AdditionalItemNotValid
            ? child.Errors.Values.SelectMany(e => e).SelectMany(Leaves)
            : [error];

    private static string DescribeSchemaError(ValidationError error) =>
        error.Kind == ValidationErrorKind.NotAnyOf && (error.Path ?? "").EndsWith("type", StringComparison.Ordinal)
            ? "must be one of array, boolean, integer, null, number, object, string, or a list of them"
            : Describe(error);

    /// <summary>What the meta-schema cannot say: patterns must compile, and references must stay inside the schema.</summary>
    private static IEnumerable<(string, string)> CheckKeywords(JsonElement node, string path)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in node.EnumerateArray())
                foreach (var error in CheckKeywords(item, $"{path}[{i++}]")) yield return error;
        }
        if (node.ValueKind != JsonValueKind.Object) yield break;
        foreach (var (keyword, value) in node.EnumerateObject().Select(p => (p.Name, p.Value)))
        {
            var at = $"{path}.{keyword}";
            switch (keyword)
            {
                case "const" or "default" or "enum" or "examples": // data, not schemas
                    break;
                case "pattern" when value.ValueKind == JsonValueKind.String && RegexError(value.GetString()!) is { } error:
                    yield return (at, error);
                    break;
                case "$ref" when value.ValueKind == JsonValueKind.String && !value.GetString()!.StartsWith('#'):
                    yield return (at, "Only references inside the schema (starting with '#') are supported.");
                    break;
                case "properties" or "patternProperties" or "definitions" or "dependencies" when value.ValueKind == JsonValueKind.Object:
                    // Maps from a name (a regular expression for patternProperties) to a schema.
                    foreach (var named in value.EnumerateObject())
                    {
                        if (keyword == "patternProperties" && RegexError(named.Name) is { } nameError) yield return ($"{at}.{named.Name}", nameError);
                        foreach (var error in CheckKeywords(named.Value, $"{at}.{named.Name}")) yield return error;
                    }
                    break;
                default:
                    foreach (var error in CheckKeywords(value, at)) yield return error;
                    break;
            }
        }
    }

    private static string? RegexError(string pattern)
    {
        try { _ = new System.Text.RegularExpressions.Regex(pattern); return null; }
        catch (ArgumentException e) { return $"is not a valid regular expression: {e.Message}"; }
    }

    public async Task<IReadOnlyList<(string Path, string Message)>> ValidateAsync(string schemaJson, JsonElement value, string pathPrefix)
    {
        var schema = await ParseAsync(schemaJson);
        var errors = Validator.Validate(ReadToken(value.ValueKind == JsonValueKind.Undefined ? "null" : value.GetRawText()), schema);
        if (errors.Count == 0) return [];
        // For oneOf/anyOf the top-level error (not each branch's) says enough and keeps the list short.
        return errors.Select(e => (pathPrefix + ToPath(e), Describe(e))).Distinct().ToList();
    }

    private static readonly JsonLoadSettings WithoutLineInfo = new() { LineInfoHandling = LineInfoHandling.Ignore };

    /// <summary>
    /// Read as NJsonSchema's Validate(string) reads it (a JsonTextReader with DateParseHandling.None, otherwise defaults),
    /// but with pooled char buffers and no line info on each token, which no message here gives: its own reader took a new
    /// 1,024-char buffer per call.
    /// </summary>
    internal static JToken ReadToken(string json)
    {
        using var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None, ArrayPool = PooledChars.Instance };
        return JToken.ReadFrom(reader, WithoutLineInfo);
    }

    private sealed class PooledChars : IArrayPool<char>
    {
        public static readonly PooledChars Instance = new();
        public char[] Rent(int minimumLength) => ArrayPool<char>.Shared.Rent(minimumLength);
        // Cleared, as PooledBody's: the text holds recipients' data and, for an adapter, its decrypted config.
        public void Return(char[]? array) { if (array is not null) ArrayPool<char>.Shared.Return(array, clearArray: true); }
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
        // A schema's description says in words which shapes it allows (vk: "peerId or domain, not both").
        ValidationErrorKind.NotAnyOf or ValidationErrorKind.NotOneOf when error.Schema?.Description is { Length: > 0 } wanted => $"{Describe(error.Kind)}: {wanted}",
        ValidationErrorKind.NotAnyOf or ValidationErrorKind.NotOneOf => Describe(error.Kind),
        // A pattern's description says in words what the regular expression wants.
        ValidationErrorKind.PatternMismatch when error.Schema?.Description is { Length: > 0 } wanted => $"does not match the required pattern: {wanted}",
        ValidationErrorKind.PatternMismatch => "does not match the required pattern",
        _ => $"is invalid ({error.Kind})",
    };

    private static string Describe(ValidationErrorKind kind) =>
        kind == ValidationErrorKind.NotAnyOf ? "does not match any allowed shape" : "does not match exactly one allowed shape";
}
