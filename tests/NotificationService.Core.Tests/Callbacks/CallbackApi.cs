using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Callbacks;

public sealed record CreatedCallback(Guid Id, string Url, List<string> Events, bool Enabled, DateTimeOffset CreatedAt, string Secret);
public sealed record CallbackState(Guid Id, string Url, List<string> Events, bool Enabled, string? DisabledReason, DateTimeOffset? DisabledAt, int ConsecutiveFailures);
public sealed record Delivery(Guid Id, Guid EventId, string EventType, Guid JobId, string Url, int Attempt, DateTimeOffset AttemptedAt, int? StatusCode,
    string Outcome, string? Error, long DurationMs, DateTimeOffset? NextAttemptAt);
public sealed record DeliveryPage(List<Delivery> Items, string? Next);

/// <summary>A received callback, parsed; <see cref="SignatureValid"/> checks X-NS-Signature as a receiver would (README).</summary>
public sealed record ReceivedCallback(JsonElement Body, string EventId, bool SignatureValid)
{
    public string Type => Body.GetProperty("type").GetString()!;
    public Guid JobId => Body.GetProperty("jobId").GetGuid();

    public static ReceivedCallback From(RecordedRequest request, string secret)
    {
        var header = request.Headers.GetValueOrDefault("X-NS-Signature") ?? "";
        var parts = header.Split(',').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        var expected = parts.TryGetValue("t", out var t)
            ? Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{request.Body}")))
            : null;
        return new ReceivedCallback(JsonDocument.Parse(request.Body).RootElement.Clone(), request.Headers.GetValueOrDefault("X-NS-Event-Id") ?? "",
            expected is not null && parts.GetValueOrDefault("v1") == expected);
    }
}

public static class CallbackApi
{
    public static Task<CreatedCallback> CreateCallbackAsync(this SystemFixture system, Tenant tenant, string url, string[]? events = null) =>
        system.SendAsync<CreatedCallback>(HttpMethod.Post, "/v1/callbacks", tenant.ApiKey, new { url, events }, expect: 201);

    public static Task<CallbackState> GetCallbackAsync(this SystemFixture system, Tenant tenant, Guid id) =>
        system.SendAsync<CallbackState>(HttpMethod.Get, $"/v1/callbacks/{id}", tenant.ApiKey, expect: 200);

    public static Task<DeliveryPage> GetDeliveriesAsync(this SystemFixture system, Tenant tenant, Guid id, string query = "") =>
        system.SendAsync<DeliveryPage>(HttpMethod.Get, $"/v1/callbacks/{id}/deliveries{query}", tenant.ApiKey, expect: 200);

    public static List<ReceivedCallback> Received(this HttpPeer peer, string secret) => peer.Requests.Select(r => ReceivedCallback.From(r, secret)).ToList();

    public static Task<List<ReceivedCallback>> WaitForCallbacksAsync(this HttpPeer peer, string secret, Func<List<ReceivedCallback>, bool> done, string what) =>
        Eventually.Until(() => Task.FromResult(peer.Received(secret)), done, TimeSpan.FromSeconds(30), what);
}
