using System.Text.Json;
using System.Text.Json.Serialization;

namespace NotificationService.Client;

/// <summary>
/// A field of a JSON merge patch (RFC 7396), which has three cases a nullable cannot hold: left out (the stored value
/// stays: <c>default</c>), a value, and <c>null</c> (back to the default). Assign a value or <c>null</c> directly:
/// <c>new ServiceLimitsPatch { Burst = 20, OffersPerSecond = null }</c> sets the burst, resets the rate and leaves the rest.
/// </summary>
[JsonConverter(typeof(OptionalConverterFactory))]
public readonly record struct Optional<T>
{
    public Optional(T value) => (HasValue, Value) = (true, value);

    /// <summary>False: the field is left out of the patch.</summary>
    public bool HasValue { get; }
    public T Value { get; }

    public static implicit operator Optional<T>(T value) => new(value);

    public override string ToString() => HasValue ? $"{Value}" : "(left out)";
}

internal sealed class OptionalConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(Optional<>);

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(OptionalConverter<>).MakeGenericType(typeToConvert.GetGenericArguments()[0]))!;

    private sealed class OptionalConverter<T> : JsonConverter<Optional<T>>
    {
        // A null token must reach Read: it is the "set to null" case, not "left out".
        public override bool HandleNull => true;

        public override Optional<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(JsonSerializer.Deserialize<T>(ref reader, options)!);

        // Properties of this type carry [JsonIgnore(Condition = WhenWritingDefault)], so a left-out field never gets here.
        public override void Write(Utf8JsonWriter writer, Optional<T> value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value.Value, options);
    }
}
