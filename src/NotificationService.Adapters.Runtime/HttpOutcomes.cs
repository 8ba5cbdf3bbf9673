using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.WebUtilities;
using NotificationService.Contracts;
using NotificationService.Hosting;

namespace NotificationService.Adapters.Runtime;

/// <summary>How HTTP-speaking channels classify what a provider answered.</summary>
public static class HttpOutcomes
{
    /// <summary>How much of a provider's answer an operator sees in the job's detail.</summary>
    public const int DetailLength = 1000;

    /// <summary>
    /// 2xx delivered; 408, 429 (with the provider's Retry-After) and 5xx may succeed later; other 4xx never will. The error
    /// names the status only; the provider's body (capped by <see cref="OutboundHttp"/>) goes to the operator-only detail.
    /// </summary>
    public static async Task<DeliveryResult> ClassifyAsync(HttpResponseMessage response, Func<string, string?>? providerId = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode) return new DeliveryResult.Delivered(providerId?.Invoke(body));
        // The standard phrase, not the provider's own reason phrase: that is provider text too.
        var error = $"The provider answered HTTP {status} {ReasonPhrases.GetReasonPhrase(status)}".TrimEnd() + ".";
        return response.StatusCode is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || status >= 500
            ? new DeliveryResult.Transient(error, RetryAfter(response.Headers.RetryAfter), Excerpt(body))
            : new DeliveryResult.Permanent(error, Excerpt(body));
    }

    /// <summary>
    /// Failures before any answer: a refused redirect or address (permanent), connection refused or reset, DNS, our own
    /// request timeout (transient).
    /// </summary>
    public static DeliveryResult? Classify(Exception e, CancellationToken cancellation) => e switch
    {
        _ when Refusal(e) is { } refused => new DeliveryResult.Permanent(refused.Message),
        HttpRequestException h => new DeliveryResult.Transient($"HTTP request failed: {h.Message}"),
        TaskCanceledException or TimeoutException when !cancellation.IsCancellationRequested => new DeliveryResult.Transient("The provider did not answer in time."),
        _ => null,
    };

    /// <summary>The refusal behind an exception, however a client library wrapped it.</summary>
    public static OutboundRequestRefusedException? Refusal(Exception? e) =>
        e is null ? null : e as OutboundRequestRefusedException ?? Refusal(e.InnerException);

    public static TimeSpan? RetryAfter(RetryConditionHeaderValue? header) =>
        header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);

    public static string? Excerpt(string? text) =>
        string.IsNullOrEmpty(text) ? null : text.Length <= DetailLength ? text : text[..DetailLength] + "…";
}
