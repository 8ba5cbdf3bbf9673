using System.Net.Http.Headers;
using System.Text.Json;

namespace NotificationService.Client;

/// <summary>
/// A non-2xx answer of the Notification Service. Every error the service gives is an RFC 7807 problem, whose fields are
/// here; validation problems (422) name each offending field in <see cref="Errors"/> (e.g. <c>targets[0].params.to</c>).
/// An answer that is not a problem (a proxy's HTML page, an empty body) still gives its status and, in
/// <see cref="Body"/>, the start of its text.
/// </summary>
public sealed class NotificationApiException : Exception
{
    /// <summary>At most this many characters of a body that is not a problem are kept.</summary>
    public const int MaxBodyChars = 4096;

    private static readonly IReadOnlyDictionary<string, string[]> NoErrors = new Dictionary<string, string[]>();

    public NotificationApiException(HttpMethod method, string path, int status, string? title, string? detail,
        string? type = null, string? traceId = null, IReadOnlyDictionary<string, string[]>? errors = null, TimeSpan? retryAfter = null,
        string? limit = null, JsonElement? problem = null, string? body = null)
        : base(Describe(method, path, status, title, detail))
    {
        Method = method;
        Path = path;
        Status = status;
        Title = title;
        Detail = detail;
        Type = type;
        TraceId = traceId;
        Errors = errors ?? NoErrors;
        RetryAfter = retryAfter;
        Limit = limit;
        Problem = problem;
        Body = body;
    }

    public HttpMethod Method { get; }
    /// <summary>The request's path and query, relative to the base address.</summary>
    public string Path { get; }
    /// <summary>The HTTP status code.</summary>
    public int Status { get; }
    public string? Title { get; }
    public string? Detail { get; }
    /// <summary>The problem's <c>type</c> URI.</summary>
    public string? Type { get; }
    /// <summary>The server's trace id: quote it to the operator, it finds the request in the logs.</summary>
    public string? TraceId { get; }
    /// <summary>Field path -> messages (422); empty otherwise.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }
    /// <summary>From the <c>Retry-After</c> header (429, 503): how long to wait before trying again.</summary>
    public TimeSpan? RetryAfter { get; }
    /// <summary>For 429 and 413: which limit of the service was reached (<c>offersPerSecond</c>, <c>pendingJobs</c>, <c>maxBodyBytes</c>).</summary>
    public string? Limit { get; }
    /// <summary>The whole problem document, for extensions this class has no property for.</summary>
    public JsonElement? Problem { get; }
    /// <summary>The body's text when it was not a problem document (cut at <see cref="MaxBodyChars"/>), else null.</summary>
    public string? Body { get; }

    private static string Describe(HttpMethod method, string path, int status, string? title, string? detail) =>
        $"{method} {path}: {status}{(title is null ? "" : " " + title)}{(detail is null ? "" : " " + detail)}";

    internal static async Task<NotificationApiException> FromResponseAsync(HttpMethod method, string path, HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var retryAfter = RetryAfterOf(response.Headers.RetryAfter);
        var text = await ReadBoundedAsync(response.Content, ct);
        if (TryParseObject(text) is { } problem)
        {
            return new NotificationApiException(method, path, status,
                String(problem, "title") ?? response.ReasonPhrase, String(problem, "detail"), String(problem, "type"), String(problem, "traceId"),
                ErrorsOf(problem), retryAfter, String(problem, "limit"), problem);
        }
        var body = text.Length > MaxBodyChars ? text[..MaxBodyChars] : text;
        return new NotificationApiException(method, path, status, response.ReasonPhrase, body.Length == 0 ? null : body,
            retryAfter: retryAfter, body: body);
    }

    /// <summary>At most this many bytes of an error body are read: a problem is far smaller; a proxy's page may not be.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    private static async Task<string> ReadBoundedAsync(HttpContent content, CancellationToken ct)
    {
        await using var stream = await content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxBodyBytes];
        var read = 0;
        while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), ct) is var n && n > 0) read += n;
        return System.Text.Encoding.UTF8.GetString(buffer, 0, read);
    }

    private static JsonElement? TryParseObject(string text)
    {
        if (text.Length == 0) return null;
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement problem, string name) =>
        problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static IReadOnlyDictionary<string, string[]>? ErrorsOf(JsonElement problem)
    {
        if (!problem.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Object) return null;
        var map = new Dictionary<string, string[]>();
        foreach (var field in errors.EnumerateObject())
            map[field.Name] = field.Value.ValueKind switch
            {
                JsonValueKind.Array => field.Value.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m.GetRawText()).ToArray(),
                JsonValueKind.String => [field.Value.GetString()!],
                _ => [field.Value.GetRawText()],
            };
        return map;
    }

    private static TimeSpan? RetryAfterOf(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };
}
