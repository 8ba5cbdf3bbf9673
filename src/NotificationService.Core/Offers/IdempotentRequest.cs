using System.Security.Cryptography;
using System.Text.Json;
using Marten;

namespace NotificationService.Core.Offers;

/// <summary>
/// The first response to a POST that carried an <c>Idempotency-Key</c>, stored in the offer's own transaction so a retry
/// finds either nothing (and creates) or exactly what the first request created. Id: "{serviceId}:{key}".
/// </summary>
public sealed class IdempotentRequest
{
    public string Id { get; set; } = "";
    public string RequestHash { get; set; } = "";
    public Guid OfferId { get; set; }
    public List<AcceptedJob> Jobs { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }

    public static string IdFor(Guid serviceId, string key) => $"{serviceId}:{key}";

    /// <summary>The request's fingerprint: a retry under the same key with another body is refused.</summary>
    public static string HashOf(CreateOffer command) => Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(command, HashJson)));

    // A field left out of the request (a templated target's params) is an undefined JsonElement, which System.Text.Json
    // refuses to write: it is hashed as null.
    private static readonly JsonSerializerOptions HashJson = new() { Converters = { new UndefinedAsNull() } };

    private sealed class UndefinedAsNull : System.Text.Json.Serialization.JsonConverter<JsonElement>
    {
        public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => JsonElement.ParseValue(ref reader);

        public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options)
        {
            if (value.ValueKind == JsonValueKind.Undefined) writer.WriteNullValue();
            else value.WriteTo(writer);
        }
    }

    /// <summary>The earlier request this service made under <paramref name="key"/>, if any.</summary>
    public static Task<IdempotentRequest?> FindAsync(IQuerySession session, Guid serviceId, string key) => session.LoadAsync<IdempotentRequest>(IdFor(serviceId, key));
}
