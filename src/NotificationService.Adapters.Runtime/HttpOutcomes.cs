using System.Net;
using System.Net.Http.Headers;

namespace NotificationService.Adapters.Runtime;

/// <summary>How HTTP-speaking channels classify what a provider answered.</summary>
public static class HttpOutcomes
{
    /// <summary>2xx delivered; 408, 429 (with the provider's Retry-After) and 5xx may succeed later; other 4xx never will.</summary>
    public static async Task<DeliveryResult> ClassifyAsync(HttpResponseMessage response, Func<string, string?>? providerId = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode) return new DeliveryResult.Delivered(providerId?.Invoke(body));
        var error = $"HTTP {status}: {Truncate(body)}";
        return response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || status >= 500
            ? new DeliveryResult.Transient(error, RetryAfter(response.Headers.RetryAfter))
            : new DeliveryResult.Permanent(error);
    }

    /// <summary>Failures before any answer: connection refused or reset, DNS, our own request timeout.</summary>
    public static DeliveryResult? Classify(Exception e, CancellationToken cancellation) => e switch
    {
        HttpRequestException h => new DeliveryResult.Transient($"HTTP request failed: {h.Message}"),
        TaskCanceledException or TimeoutException when !cancellation.IsCancellationRequested => new DeliveryResult.Transient("The provider did not answer in time."),
        _ => null,
    };

    public static TimeSpan? RetryAfter(RetryConditionHeaderValue? header) =>
        header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";
}
