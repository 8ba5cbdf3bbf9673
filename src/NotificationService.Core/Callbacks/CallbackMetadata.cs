using System.Text.Json;
using System.Text.Json.Nodes;
using Marten;
using NotificationService.Core.Offers;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// The offer's metadata, put into a callback body when it is sent rather than when the event is dispatched: retries run
/// for hours, and an offer erased (POST /v1/offers/{id}/erase, or by retention) in between must not have its metadata
/// sent later.
/// </summary>
public static class CallbackMetadata
{
    /// <summary>The body to send now: the stored one with the offer's current metadata (null when erased or gone).</summary>
    public static async Task<string> RenderAsync(string body, IQuerySession session, CancellationToken cancellation)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        var offerId = node["offerId"]?.GetValue<Guid>();
        var offer = offerId is { } id ? await session.LoadAsync<Offer>(id, cancellation) : null;
        return With(node, offer?.Metadata);
    }

    public static string With(JsonObject body, Dictionary<string, string>? metadata)
    {
        body["metadata"] = metadata is null ? null : JsonSerializer.SerializeToNode(metadata, CallbackSubscription.Json);
        return body.ToJsonString(CallbackSubscription.Json);
    }
}
