using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fluid;
using Fluid.Values;

namespace NotificationService.Core.Templates;

/// <summary>
/// Renders a template variant into an adapter's params. A variant is a JSON object shaped like the params; every string
/// in it (nested ones too, e.g. a webhook payload) is Liquid, every other value is copied. A string that is exactly one
/// variable (<c>"{{ recipients }}"</c>, no filter) takes that data value as it is, so an array or number passes through
/// (email <c>to</c> as a list). The top-level <c>html</c> field is rendered with HTML-escaping, every other without.
/// Safe by construction: only <c>data</c> is visible (converted to Liquid values, no .NET object reached), no file
/// access (include/render), no buffered blocks (capture/ifchanged), and every render is bounded in steps, recursion,
/// output and the size of any intermediate string. The step and output budgets are per <see cref="Render"/>, shared by
/// all strings of the variant: a variant of thousands of small strings costs no more than one big one.
/// </summary>
public static partial class TemplateRendering
{
    /// <summary>The UTF-8 size of a template's variants (all locales) at most.</summary>
    public const int MaxTemplateBytes = 64 * 1024;
    /// <summary>The characters one rendered string, and any string made while rendering it, may have at most.</summary>
    public const int MaxOutputChars = 64 * 1024;
    /// <summary>The Liquid steps one <see cref="Render"/> may take, all strings of the variant together.</summary>
    public const int MaxSteps = 10_000;
    public const int MaxRecursion = 16;
    /// <summary>The characters of template text kept parsed at most (the cache is emptied when it would hold more).</summary>
    public const long MaxCachedChars = 4 * 1024 * 1024;

    public sealed record Result(JsonElement Params, string Locale, IReadOnlyList<(string Path, string Message)> Errors)
    {
        public bool Ok => Errors.Count == 0;
    }

    private static readonly FluidParser Parser = CreateParser();
    private static readonly TemplateOptions Options = CreateOptions();
    // Parsed templates by their text: a hot template is parsed once, not once per job. Bounded by the characters it
    // holds (a count of entries would let 64 KB strings add up to hundreds of MB): emptied when it would hold more.
    private static readonly ConcurrentDictionary<string, IFluidTemplate> Parsed = new();
    private static long cachedChars;
    internal static long CachedChars => Interlocked.Read(ref cachedChars);

    [GeneratedRegex(@"^\s*\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*)\s*-?\}\}\s*$")]
    private static partial Regex SingleVariable();

    /// <summary>
    /// Renders <paramref name="template"/> for <paramref name="locale"/> (falling back de-AT -> de -> default) with
    /// <paramref name="data"/>. Errors are keyed <c>{path}.template.{field}</c> (a parse error with its line and column).
    /// Stops as soon as the params written so far exceed <paramref name="maxBytes"/> (the service's maxParamsBytes) or
    /// the variant's strings together take more than <see cref="MaxSteps"/> steps.
    /// </summary>
    public static Result Render(Template template, string? locale, JsonElement data, string path, int maxBytes = int.MaxValue)
    {
        var (used, variant) = template.VariantFor(locale);
        var errors = new List<(string, string)>();
        if (data.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
        {
            errors.Add((Join(path, "data"), "must be an object"));
            return new Result(default, used, errors);
        }
        var model = data.ValueKind == JsonValueKind.Object ? data : default;
        // The data as Liquid values once per render, not once per string; a number Liquid cannot hold is the data's error.
        var variables = new List<(string, FluidValue)>();
        try
        {
            if (model.ValueKind == JsonValueKind.Object)
                foreach (var p in model.EnumerateObject()) variables.Add((p.Name, ToFluid(p.Value)));
        }
        catch (NumberOutOfRange e)
        {
            errors.Add((Join(path, "data"), $"The number {e.Text} is out of range: templates handle numbers up to about 7.9e28 in size."));
            return new Result(default, used, errors);
        }
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var budget = new Budget(maxBytes);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            try { RenderValue(variant, model, variables, writer, Join(path, "template"), html: false, topLevel: true, errors, budget); }
            catch (Budget.Exhausted e) { errors.Add((Join(path, "template"), e.Message)); }
        }
        var rendered = errors.Count == 0 ? JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone() : default;
        return new Result(rendered, used, errors);
    }

    /// <summary>What is left of one render's steps and output bytes.</summary>
    private sealed class Budget(int maxBytes)
    {
        public sealed class Exhausted(string message) : Exception(message);

        public int Steps = MaxSteps;

        public void CheckOutput(Utf8JsonWriter writer)
        {
            if (writer.BytesCommitted + writer.BytesPending > maxBytes) throw TooBig();
        }

        public Exhausted TooBig() => new($"The rendered params are more than {maxBytes} bytes of JSON (this service's maxParamsBytes limit).");

        /// <summary>The characters the next string may have: what is left of the output, and never more than <see cref="MaxOutputChars"/>.</summary>
        public int CharsLeft(Utf8JsonWriter writer) => (int)Math.Clamp(maxBytes - writer.BytesCommitted - writer.BytesPending, 0, MaxOutputChars);
    }

    /// <summary>A context that tells how many steps its render took, so the next string gets only what is left.</summary>
    private sealed class CountingContext(TemplateOptions options) : TemplateContext(options)
    {
        public int StepsTaken => _steps;
    }

    private sealed class NumberOutOfRange(string text) : Exception
    {
        public string Text { get; } = text;
    }

    /// <summary>
    /// <see cref="Render"/>, then the checks a target's params get: the rendered params within the service's
    /// maxParamsBytes and valid against <paramref name="paramsSchema"/>. A schema error is keyed at the template field
    /// that rendered it (<c>targets[0].template.to</c>) and says it is about the rendered value.
    /// </summary>
    public static async Task<Result> RenderCheckedAsync(Template template, string? locale, JsonElement data, string path, string paramsSchema,
        NotificationService.Core.Limits.EffectiveLimits limits, NotificationService.Core.Infrastructure.JsonSchemas schemas)
    {
        var result = Render(template, locale, data, path, limits.MaxParamsBytes);
        if (!result.Ok) return result;
        var at = Join(path, "template");
        var size = Encoding.UTF8.GetByteCount(result.Params.GetRawText());
        if (size > limits.MaxParamsBytes)
            return result with { Errors = [(at, $"The rendered params are {size} bytes of JSON; at most {limits.MaxParamsBytes} (this service's maxParamsBytes limit).")] };
        var invalid = await schemas.ValidateAsync(paramsSchema, result.Params, at);
        return invalid.Count == 0 ? result : result with
        {
            Errors = invalid.Select(e => (e.Path, $"Rendered from template '{template.Key}' v{template.Version} ({result.Locale}): {e.Message}")).ToList(),
        };
    }

    private static string Join(string path, string field) => path.Length == 0 ? field : $"{path}.{field}";

    /// <summary>Every Liquid string of a variant that does not parse, keyed <c>{path}.{field}</c>, with line and column.</summary>
    public static IEnumerable<(string Path, string Message)> ParseErrors(JsonElement variant, string path)
    {
        switch (variant.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in variant.EnumerateObject())
                    foreach (var e in ParseErrors(p.Value, $"{path}.{p.Name}")) yield return e;
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in variant.EnumerateArray())
                    foreach (var e in ParseErrors(item, $"{path}[{i++}]")) yield return e;
                break;
            case JsonValueKind.String:
                if (!TryParse(variant.GetString()!, out _, out var error)) yield return (path, error);
                break;
        }
    }

    private static void RenderValue(JsonElement value, JsonElement data, List<(string, FluidValue)> variables, Utf8JsonWriter writer, string path,
        bool html, bool topLevel, List<(string, string)> errors, Budget budget)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var p in value.EnumerateObject())
                {
                    writer.WritePropertyName(p.Name);
                    RenderValue(p.Value, data, variables, writer, $"{path}.{p.Name}", topLevel && p.Name == "html", false, errors, budget);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                var i = 0;
                foreach (var item in value.EnumerateArray()) RenderValue(item, data, variables, writer, $"{path}[{i++}]", html, false, errors, budget);
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                var source = value.GetString()!;
                if (SingleVariable().Match(source) is { Success: true } single && Lookup(data, single.Groups[1].Value) is { } raw
                    && raw.ValueKind is not JsonValueKind.String)
                {
                    raw.WriteTo(writer); // an array, number, object, true/false or null passes through as it is
                    budget.CheckOutput(writer);
                    break;
                }
                var (text, error) = RenderString(source, variables, html, budget, budget.CharsLeft(writer));
                if (error is not null) { errors.Add((path, error)); writer.WriteNullValue(); }
                else writer.WriteStringValue(text);
                budget.CheckOutput(writer);
                break;
            default:
                value.WriteTo(writer);
                budget.CheckOutput(writer);
                break;
        }
    }

    /// <summary>
    /// One Liquid string rendered with the data's <paramref name="variables"/>, within what is left of the render's
    /// <paramref name="budget"/> of steps and at most <paramref name="maxChars"/> characters; or the error.
    /// </summary>
    private static (string Text, string? Error) RenderString(string source, List<(string, FluidValue)> variables, bool html, Budget budget, int maxChars)
    {
        if (!TryParse(source, out var template, out var parseError)) return ("", parseError);
        // MaxSteps 0 would mean "no limit" to Fluid: with nothing left, fail here.
        if (budget.Steps < 1) return ("", $"Rendering failed: {Describe(new InvalidOperationException("maximum"))}");
        var context = new CountingContext(Options) { MaxSteps = budget.Steps };
        foreach (var (name, value) in variables) context.SetValue(name, value);
        using var output = new LimitedWriter(maxChars);
        try
        {
            // No filter here waits on anything, so the render completes synchronously; GetResult only unwraps it.
            template.RenderAsync(output, context, html ? HtmlEncoder.Default : NullEncoder.Default).GetAwaiter().GetResult();
        }
        catch (LimitedWriter.TooLong) when (maxChars < MaxOutputChars)
        {
            throw budget.TooBig();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A template is the client's input: whatever Liquid throws (a limit, a bad filter argument) is their 422.
            return ("", $"Rendering failed: {Describe(e)}");
        }
        finally
        {
            budget.Steps -= context.StepsTaken;
        }
        var text = output.ToString();
        return StorableError(text) is { } bad ? ("", bad) : (text, null);
    }

    private static string Describe(Exception e) => e switch
    {
        LimitedWriter.TooLong => $"the output is longer than {MaxOutputChars} characters.",
        TooLongValue => $"a value made while rendering is longer than {MaxOutputChars} characters.",
        InvalidOperationException when e.Message.Contains("maximum", StringComparison.OrdinalIgnoreCase) =>
            $"more than {MaxSteps} steps or {MaxRecursion} levels of nesting (a loop too long?).",
        _ => e.Message,
    };

    /// <summary>A filter like <c>url_decode</c> can make a NUL or a lone surrogate, which PostgreSQL cannot store.</summary>
    private static string? StorableError(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return "Renders a NUL character, which cannot be stored.";
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c)) return "Renders a lone surrogate, which is not valid text.";
        }
        return null;
    }

    public static bool TryParse(string source, out IFluidTemplate template, out string error)
    {
        error = "";
        if (Parsed.TryGetValue(source, out template!)) return true;
        if (!Parser.TryParse(source, out template!, out var message))
        {
            error = $"Liquid does not parse: {message}";
            return false;
        }
        template = new BoundedRanges().VisitTemplate(template);
        if (Interlocked.Add(ref cachedChars, source.Length) > MaxCachedChars)
        {
            // Racing adders may each clear; the count only has to stay near the cache's size, not equal it.
            Parsed.Clear();
            Interlocked.Exchange(ref cachedChars, source.Length);
        }
        if (!Parsed.TryAdd(source, template)) Interlocked.Add(ref cachedChars, -source.Length);
        return true;
    }

    private static JsonElement? Lookup(JsonElement data, string path)
    {
        if (data.ValueKind != JsonValueKind.Object) return null;
        var current = data;
        foreach (Match m in PathSegment().Matches(path))
        {
            if (m.Groups[1].Success)
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(m.Groups[1].Value, out current)) return null;
            }
            else
            {
                // The regex allows any number of digits: one past int's range is just an index no array has.
                if (!int.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index)) return null;
                if (current.ValueKind != JsonValueKind.Array || index >= current.GetArrayLength()) return null;
                current = current[index];
            }
        }
        return current;
    }

    [GeneratedRegex(@"([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")]
    private static partial Regex PathSegment();

    /// <summary>JSON as Liquid values: dictionaries, arrays and scalars only, never a .NET object with members to reach.</summary>
    private static FluidValue ToFluid(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => new DictionaryValue(new FluidValueDictionaryFluidIndexable(
            value.EnumerateObject().GroupBy(p => p.Name).ToDictionary(g => g.Key, g => ToFluid(g.Last().Value)))),
        JsonValueKind.Array => new ArrayValue(value.EnumerateArray().Select(ToFluid).ToArray()),
        JsonValueKind.String => new StringValue(value.GetString()!),
        // Liquid numbers are decimals: a number beyond decimal's range (1e30) cannot be one, and a cast would throw.
        JsonValueKind.Number => value.TryGetDecimal(out var d) ? NumberValue.Create(d) : throw new NumberOutOfRange(value.GetRawText()),
        JsonValueKind.True => BooleanValue.True,
        JsonValueKind.False => BooleanValue.False,
        _ => NilValue.Instance,
    };

    private static FluidParser CreateParser()
    {
        var parser = new FluidParser();
        // No file access, and no block that renders into a buffer of its own (which the output limit would not see).
        foreach (var tag in new[] { "include", "render", "capture", "ifchanged", "macro", "from" }) parser.RegisteredTags.Remove(tag);
        return parser;
    }

    private static TemplateOptions CreateOptions()
    {
        var options = new TemplateOptions
        {
            MaxSteps = MaxSteps,
            MaxRecursion = MaxRecursion,
            CultureInfo = CultureInfo.InvariantCulture,
            TimeZone = TimeZoneInfo.Utc,
            // Nothing of .NET is reachable: the only values are the ToFluid ones, which need no member access.
            MemberAccessStrategy = new DefaultMemberAccessStrategy(),
        };
        options.Assigned = (_, value, _) => Bounded(value);
        options.Captured = (_, value, _) => Bounded(value);
        // Filters that multiply their input are checked before they run, every other string filter after.
        foreach (var name in new[] { "replace", "replace_first", "replace_last", "join", "append", "prepend", "remove", "remove_first",
                     "remove_last", "upcase", "downcase", "capitalize", "newline_to_br", "escape", "url_encode", "url_decode", "json", "slice",
                     "truncate", "truncatewords", "strip", "lstrip", "rstrip", "strip_html", "strip_newlines", "split", "default", "date" })
            if (options.Filters.TryGetValue(name, out var filter))
                options.Filters.AddFilter(name, async (input, arguments, context) =>
                {
                    if (UpperBound(name, input, arguments) > MaxOutputChars) throw new TooLongValue();
                    return await Bounded(await filter(input, arguments, context));
                });
        return options;
    }

    /// <summary>How long the filter's result can be at most (before it is made).</summary>
    private static long UpperBound(string filter, FluidValue input, FilterArguments arguments)
    {
        long inputLength = input is ArrayValue array ? array.Values.Sum(v => (long)v.ToStringValue().Length) + array.Values.Count : input.ToStringValue().Length;
        long argumentsLength = Enumerable.Range(0, arguments.Count).Sum(i => (long)arguments.At(i).ToStringValue().Length);
        return filter switch
        {
            "replace" or "replace_first" or "replace_last" => inputLength + (inputLength + 1) * argumentsLength,
            "join" => inputLength * (1 + argumentsLength),
            "newline_to_br" => inputLength * 7,
            "escape" or "url_encode" or "json" => inputLength * 6,
            _ => inputLength + argumentsLength,
        };
    }

    private static ValueTask<FluidValue> Bounded(FluidValue value) =>
        value is StringValue s && s.ToStringValue().Length > MaxOutputChars ? throw new TooLongValue() : new ValueTask<FluidValue>(value);

    private sealed class TooLongValue : Exception;

    /// <summary>
    /// Fluid builds a range's whole array before a loop counts its first step, so <c>(1..100000000)</c> would allocate
    /// for seconds; here a range longer than <see cref="MaxSteps"/> fails before anything is made.
    /// </summary>
    private sealed class BoundedRanges : Fluid.Ast.AstRewriter
    {
        protected override Fluid.Ast.Expression VisitRangeExpression(Fluid.Ast.RangeExpression range) =>
            new BoundedRange((Fluid.Ast.RangeExpression)base.VisitRangeExpression(range));
    }

    private sealed class BoundedRange(Fluid.Ast.RangeExpression range) : Fluid.Ast.Expression
    {
        public override async ValueTask<FluidValue> EvaluateAsync(TemplateContext context)
        {
            var from = (await range.From.EvaluateAsync(context)).ToNumberValue();
            var to = (await range.To.EvaluateAsync(context)).ToNumberValue();
            if (to - from >= MaxSteps) throw new InvalidOperationException($"A range of more than {MaxSteps} numbers exceeds the maximum number of steps.");
            return await range.EvaluateAsync(context);
        }
    }

    /// <summary>A writer that refuses to grow past its limit, so a huge output stops while it is being made.</summary>
    private sealed class LimitedWriter(int maxChars) : StringWriter(CultureInfo.InvariantCulture)
    {
        public sealed class TooLong : Exception;

        private void Check(int more) { if (GetStringBuilder().Length + more > maxChars) throw new TooLong(); }
        public override void Write(char value) { Check(1); base.Write(value); }
        public override void Write(string? value) { Check(value?.Length ?? 0); base.Write(value); }
        public override void Write(char[] buffer, int index, int count) { Check(count); base.Write(buffer, index, count); }
        public override void Write(ReadOnlySpan<char> buffer) { Check(buffer.Length); base.Write(buffer); }
        public override void Write(StringBuilder? value) { Check(value?.Length ?? 0); base.Write(value); }
    }
}
