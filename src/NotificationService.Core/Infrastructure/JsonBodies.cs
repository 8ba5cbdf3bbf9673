using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Wolverine.Http;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Every JSON request body is checked once at the boundary, before an endpoint reads it, with one rule for all of them:
/// <list type="bullet">
/// <item>JSON that is malformed, nested deeper than <see cref="MaxDepth"/> or repeats a key in one object is a 400
/// naming the place (a repeated key is ambiguous: parsers disagree on which value wins);</item>
/// <item>a value of the wrong JSON type or a field the request does not have is a 400 naming the field in JSON terms
/// ("targets: expected an array", "send_at: unknown field"), never a .NET type;</item>
/// <item>a string or key that PostgreSQL's jsonb cannot store (NUL, a lone surrogate, bytes that are not UTF-8) and a
/// number that is not a finite double, an integer beyond 64 bits, or one with more digits after the point than
/// PostgreSQL's numeric keeps (1e-20000 is a finite double, 0, to .NET, but jsonb refuses it), is a 422 naming its path.</item>
/// </list>
/// Free-form objects (params, metadata, config, paramsSchema) are deserialized as JSON values or dictionaries, so they
/// still take any key; only their strings and numbers are held to the storable rule.
/// </summary>
public static partial class JsonBodies
{
    public const int MaxDepth = 64;

    public static IApplicationBuilder UseJsonBodyChecks(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var endpoint = context.GetEndpoint();
        var requestType = endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType ?? endpoint?.Metadata.GetMetadata<HttpChain>()?.RequestType;
        // A route that takes no body (Wolverine names its request type void) ignores one, as it always did.
        if (requestType is null || requestType == typeof(void) || !IsJson(context.Request.ContentType)) { await next(context); return; }

        // The body is at most RequestLimits.MaxBodyBytes (refused with 413 before this), so it is held whole in memory
        // and handed on from there; a body of unknown length the size limit already buffered is used as it is.
        if (context.Request.Body is not MemoryStream && !await PooledBody.ReadAsync(context, RequestLimits.MaxBodyBytes))
        {
            await RequestLimits.TooLarge(context); // a body longer than its Content-Length said, where no Kestrel stops it
            return;
        }
        var buffer = (MemoryStream)context.Request.Body;
        buffer.Position = 0;
        if (buffer.Length == 0) { await next(context); return; } // RequireBody answers a missing body
        ArraySegment<byte> body = buffer.TryGetBuffer(out var visible) ? visible : buffer.ToArray();

        var options = context.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        if (Check(body, requestType, options) is { } problem)
        {
            await Problems.WriteAsync(context, problem);
            return;
        }
        await next(context);
    });

    /// <summary>Null when the body may go on to its endpoint, else the problem to answer with.</summary>
    public static ProblemDetails? Check(ReadOnlySpan<byte> json, Type requestType, JsonSerializerOptions options)
    {
        List<(string Field, string Message)> unstorable = [];
        if (Walk(json, unstorable) is { } malformed) return BadRequest(malformed);
        // Before the typed read: it would refuse a lone surrogate in a string field as a type error, not name it as such.
        if (unstorable.Count > 0) return Problems.Invalid(unstorable.ToArray());
        try
        {
            JsonSerializer.Deserialize(json, requestType, options);
            return null;
        }
        catch (JsonException e)
        {
            return BadRequest(Describe(e, requestType));
        }
    }

    /// <summary>One pass over the tokens: syntax, depth and repeated keys (returned), unstorable values (collected).</summary>
    private static string? Walk(ReadOnlySpan<byte> json, List<(string, string)> unstorable)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
        var path = new List<Segment>();
        var keys = new List<HashSet<string>?>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        Advance(path);
                        path.Add(reader.TokenType == JsonTokenType.StartArray ? Segment.Array() : Segment.Object());
                        keys.Add(null);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        keys.RemoveAt(keys.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        if (Text(ref reader) is not { } name)
                        {
                            unstorable.Add((PathOf(path, "\uFFFD"), "The key is not valid Unicode text (a lone surrogate or bytes that are not UTF-8)."));
                            name = $"\uFFFD{reader.TokenStartIndex}";
                        }
                        else if (name.Contains('\0')) unstorable.Add((PathOf(path, name), "The key holds a NUL (\\u0000) character, which cannot be stored."));
                        if (!(keys[^1] ??= new HashSet<string>(StringComparer.Ordinal)).Add(name))
                            return $"{PathOf(path, name)}: the key appears more than once in its object.";
                        path[^1] = path[^1] with { Key = name };
                        break;
                    case JsonTokenType.String:
                        Advance(path);
                        if (Text(ref reader) is not { } text)
                            unstorable.Add((PathOf(path), "The string is not valid Unicode text (a lone surrogate or bytes that are not UTF-8)."));
                        else if (text.Contains('\0')) unstorable.Add((PathOf(path), "The string holds a NUL (\\u0000) character, which cannot be stored."));
                        break;
                    case JsonTokenType.Number:
                        Advance(path);
                        if (!IsPortableNumber(ref reader))
                            unstorable.Add((PathOf(path), $"The number is out of range (at most a 64-bit integer, or a finite double with at most {MaxNumericScale} digits after the decimal point)."));
                        break;
                    default:
                        Advance(path);
                        break;
                }
            }
            return null;
        }
        catch (JsonException e)
        {
            return reader.CurrentDepth >= MaxDepth
                ? $"The JSON is nested deeper than {MaxDepth} levels."
                : $"The body is not valid JSON: {LineInfo().Replace(e.Message, "").Trim()} (at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).";
        }
    }

    /// <summary>The string's text, or null when it cannot be text at all (invalid UTF-8, a lone surrogate escape).</summary>
    private static string? Text(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence) return Utf8.IsValid(reader.ValueSpan) ? reader.GetString() : null;
        try { return reader.GetString(); }
        catch (InvalidOperationException) { return null; }
    }

    private static bool IsPortableNumber(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan;
        if (raw.IndexOfAny(".eE"u8) < 0) return reader.TryGetInt64(out _);
        return reader.TryGetDouble(out var value) && double.IsFinite(value) && Scale(raw) <= MaxNumericScale;
    }

    /// <summary>
    /// The most digits after the decimal point jsonb's numeric accepts as input (NUMERIC_DSCALE_MAX, 0x3FFF): beyond it PostgreSQL
    /// refuses the value while binding the statement, a failure of the database, not of the request.
    /// </summary>
    public const int MaxNumericScale = 16383;

    /// <summary>Digits after the decimal point of a JSON number as written: its fraction's digits minus its exponent.</summary>
    private static long Scale(ReadOnlySpan<byte> number)
    {
        var exponentAt = number.IndexOfAny("eE"u8);
        var mantissa = exponentAt < 0 ? number : number[..exponentAt];
        var point = mantissa.IndexOf((byte)'.');
        long scale = point < 0 ? 0 : mantissa.Length - point - 1;
        if (exponentAt < 0) return scale;
        var exponent = number[(exponentAt + 1)..];
        var negative = exponent.Length > 0 && exponent[0] == (byte)'-';
        if (exponent.Length > 0 && exponent[0] is (byte)'-' or (byte)'+') exponent = exponent[1..];
        // Saturates: an exponent of thousands of digits is out of range either way (a positive one is not a finite double).
        long magnitude = 0;
        foreach (var digit in exponent) magnitude = Math.Min(magnitude * 10 + (digit - '0'), int.MaxValue);
        return negative ? scale + magnitude : scale - magnitude;
    }

    private static void Advance(List<Segment> path)
    {
        if (path.Count > 0 && path[^1].IsArray) path[^1] = path[^1] with { Index = path[^1].Index + 1 };
    }

    private static string PathOf(List<Segment> path, string? key = null)
    {
        var text = new StringBuilder();
        for (var i = 0; i < path.Count; i++)
        {
            var segment = path[i];
            if (segment.IsArray) text.Append('[').Append(segment.Index).Append(']');
            else if ((i == path.Count - 1 ? key ?? segment.Key : segment.Key) is { } name) AppendKey(text, name);
        }
        return text.Length > 0 ? text.ToString() : "body";
    }

    /// <summary>Plain keys as <c>.name</c>; keys that would be ambiguous or unreadable as <c>["escaped"]</c>.</summary>
    private static void AppendKey(StringBuilder text, string name)
    {
        if (name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '$'))
            text.Append(text.Length > 0 ? "." : "").Append(name);
        else
            text.Append('[').Append(JsonSerializer.Serialize(name)).Append(']');
    }

    private sealed record Segment(bool IsArray, int Index, string? Key)
    {
        public static Segment Array() => new(true, -1, null);
        public static Segment Object() => new(false, 0, null);
    }

    /// <summary>System.Text.Json names the .NET type it wanted; a client needs the field and the JSON it should send.</summary>
    private static string Describe(JsonException e, Type requestType)
    {
        var field = FieldOf(e.Path);
        if (UnmappedMember().Match(e.Message) is { Success: true } unmapped)
        {
            // Depending on where the reader stopped, the path names the unknown field itself or the object holding it.
            var name = unmapped.Groups["name"].Value;
            var at = field.EndsWith(name, StringComparison.Ordinal) ? field : field.Length > 0 ? $"{field}.{name}" : name;
            return $"{at}: unknown field.";
        }
        return $"{(field.Length > 0 ? field : "body")}: expected {Expected(TypeAt(requestType, field))}.";
    }

    private static string FieldOf(string? path) =>
        (path ?? "$").TrimStart('$').TrimStart('.').Replace("['", ".").Replace("']", "");

    /// <summary>The .NET type System.Text.Json wanted at a field path of the request (its message may name the parent's).</summary>
    private static Type? TypeAt(Type type, string field)
    {
        Type? current = type;
        foreach (var segment in FieldSegments().Matches(field).Select(m => m.Value))
        {
            current = Nullable.GetUnderlyingType(current!) ?? current;
            if (current == typeof(string) || current == typeof(JsonElement)) return null;
            var dictionary = Generic(current!, typeof(IDictionary<,>)) ?? Generic(current!, typeof(IReadOnlyDictionary<,>));
            var sequence = current!.IsArray ? current.GetElementType() : Generic(current!, typeof(IEnumerable<>))?.GetGenericArguments()[0];
            current = dictionary is not null ? dictionary.GetGenericArguments()[1]
                : segment.StartsWith('[') ? sequence
                : current!.GetProperties().FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase))?.PropertyType;
            if (current is null) return null;
        }
        return Nullable.GetUnderlyingType(current!) ?? current;
    }

    private static Type? Generic(Type type, Type definition) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == definition ? type
        : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == definition);

    /// <summary>What a client should send for a value of this .NET type, in JSON terms.</summary>
    public static string Expected(Type? type) => type switch
    {
        null => "a different value",
        _ when type == typeof(string) => "a string",
        _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "a date-time string (ISO 8601, e.g. 2030-01-31T12:00:00Z)",
        _ when type == typeof(Guid) => "a UUID string",
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "an integer within range",
        _ when type == typeof(double) || type == typeof(decimal) || type == typeof(float) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(TimeSpan) => "a duration string (e.g. 00:05:00)",
        { IsEnum: true } => $"one of {string.Join(", ", Enum.GetNames(type).Select(n => $"\"{n}\""))}",
        _ when Generic(type, typeof(IDictionary<,>)) is not null || Generic(type, typeof(IReadOnlyDictionary<,>)) is not null => "an object",
        _ when type.IsArray || Generic(type, typeof(IEnumerable<>)) is not null => "an array",
        _ => "an object",
    };

    private static ProblemDetails BadRequest(string detail) =>
        new() { Status = StatusCodes.Status400BadRequest, Title = "The request body is not valid.", Detail = detail };

    /// <summary>
    /// Every content type Wolverine reads as JSON (none, */*, any json or +json media type), so no body can reach an
    /// endpoint around these checks by naming, say, application/merge-patch+json.
    /// </summary>
    private static bool IsJson(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return true;
        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType == "*/*" || mediaType.EndsWith("/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex(@"The JSON property '(?<name>.*)' could not be mapped", RegexOptions.Singleline)]
    private static partial Regex UnmappedMember();

    [GeneratedRegex(@"\[\d+\]|[^.\[\]]+")]
    private static partial Regex FieldSegments();

    [GeneratedRegex(@"\s*(Path: \S*)?\s*\|?\s*LineNumber: \d+ \| BytePositionInLine: \d+\.")]
    private static partial Regex LineInfo();
}
