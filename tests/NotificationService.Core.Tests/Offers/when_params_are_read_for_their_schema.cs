using System.Text.Json;
using NJsonSchema;
using NJsonSchema.Validation;
using NotificationService.Core.Infrastructure;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// JsonSchemas reads a target's params with a reader of its own (pooled buffers, no line info) instead of NJsonSchema's
/// Validate(string): the verdicts must be the ones NJsonSchema gives for the same text (no integer past 64 bits:
/// JsonBodies refuses those first). No host needed.
/// </summary>
public sealed class when_params_are_read_for_their_schema
{
    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "when": { "type": "string", "pattern": "^2026-01-01T00:00:00Z$" },
            "at": { "type": "string", "format": "date-time" },
            "count": { "type": "integer", "minimum": 0, "maximum": 9223372036854775807 },
            "ratio": { "type": "number", "maximum": 1000 },
            "to": { "type": "string", "format": "email", "maxLength": 20 },
            "tags": { "type": "array", "items": { "type": "string", "enum": ["a", "b"] }, "maxItems": 2 },
            "nested": { "type": "object", "additionalProperties": false, "properties": { "x": { "type": "boolean" } } }
          },
          "required": ["to"]
        }
        """;

    [Theory]
    [InlineData("""{"to":"a@example.test","when":"2026-01-01T00:00:00Z","at":"2026-01-01T00:00:00+03:00"}""")]
    [InlineData("""{"to":"a@example.test","when":"2026-01-01T00:00:00.000Z","at":"yesterday"}""")]
    [InlineData("""{"to":"a@example.test","count":9223372036854775807,"ratio":-9223372036854775808}""")]
    [InlineData("""{"to":"a@example.test","count":-0,"ratio":1e400}""")]
    [InlineData("""{"to":"a@example.test","count":1.0,"ratio":-1e-400}""")]
    [InlineData("""{"to":"a@example.test","count":1e2,"ratio":0.1}""")]
    [InlineData("""{"to":"not an address","tags":["a","c","b"]}""")]
    [InlineData("""{"to":"\u0041@example.test\ud83d\ude00","nested":{"x":1,"y":null}}""")]
    [InlineData("""{"to":"a@example.test","to":"b@example.test","nested":{"x":true}}""")]
    [InlineData("""{"nested":[[[[[[[[[[{}]]]]]]]]]]}""")]
    [InlineData("""["a@example.test"]""")]
    [InlineData("null")]
    [InlineData("\"2026-01-01T00:00:00Z\"")]
    public async Task the_errors_are_the_ones_njsonschema_gives_for_the_text(string json)
    {
        var schema = await JsonSchema.FromJsonAsync(Schema);
        var validator = new JsonSchemaValidator(new JsonSchemaValidatorSettings());

        var expected = validator.Validate(json, schema).Select(Describe).Order().ToList();
        var actual = validator.Validate(JsonSchemas.ReadToken(json), schema).Select(Describe).Order().ToList();

        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task valid_params_have_no_errors_and_invalid_ones_name_their_fields()
    {
        var schemas = new JsonSchemas();
        using var valid = JsonDocument.Parse("""{"to":"a@example.test","when":"2026-01-01T00:00:00Z","count":3}""");
        using var invalid = JsonDocument.Parse("""{"when":"2026-01-01T00:00:00.000Z","count":-1}""");

        Assert.Empty(await schemas.ValidateAsync(Schema, valid.RootElement, "targets[0].params"));
        Assert.Equal(
            [("targets[0].params.count", "is too small"), ("targets[0].params.to", "is required"), ("targets[0].params.when", "does not match the required pattern")],
            (await schemas.ValidateAsync(Schema, invalid.RootElement, "targets[0].params")).Order());
    }

    private static string Describe(ValidationError error) => $"{error.Path} {error.Kind} {error.Property}";
}
