using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NotificationService.Client;

/// <summary>
/// The one place requests are sent and answers read, shared by both clients: JSON in and out, the key on each request
/// (not on the HttpClient, so one pooled handler can serve clients with different keys), and every non-2xx answer
/// turned into a <see cref="NotificationApiException"/>.
/// </summary>
internal sealed class ApiConnection(HttpClient http, string? apiKey)
{
    /// <summary>The server's JSON: camelCase, enums as their names; null request fields are left out (the server refuses unknown fields, and a
    /// field it does not have yet, sent as null, would be one).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task<T> SendAsync<T>(
        HttpMethod method, string path, object? body, CancellationToken ct, bool authorize = true, string? idempotencyKey = null)
    {
        using var response = await SendCoreAsync(method, path, body, ct, authorize, idempotencyKey);
        var value = await response.Content.ReadFromJsonAsync<T>(Json, ct);
        return value ?? throw new NotificationApiException(method, path, (int)response.StatusCode, "The response had no body.", null);
    }

    /// <summary>
    /// One page of a list that answers an array and names its next page in a <c>Link: &lt;...&gt;; rel="next"</c> header
    /// (RFC 8288): the rows, and the <c>after</c> of that link (null on the last page).
    /// </summary>
    public async Task<ListPage<T>> SendPageAsync<T>(string path, CancellationToken ct)
    {
        using var response = await SendCoreAsync(HttpMethod.Get, path, null, ct, authorize: true, idempotencyKey: null);
        var items = await response.Content.ReadFromJsonAsync<List<T>>(Json, ct)
            ?? throw new NotificationApiException(HttpMethod.Get, path, (int)response.StatusCode, "The response had no body.", null);
        return new ListPage<T>(items, response.Headers.TryGetValues("Link", out var links) ? links.Select(NextAfter).FirstOrDefault(a => a is not null) : null);
    }

    // A Link header may hold several links ("<a>; rel=prev, <b>; rel=\"next\"", RFC 8288), in any order, rel quoted or not,
    // and a rel may name several relations: each link is read on its own.
    private static readonly System.Text.RegularExpressions.Regex LinkValue = new("<(?<target>[^>]*)>(?<params>[^<]*)");
    private static readonly System.Text.RegularExpressions.Regex RelParam = new("(?:^|;)\\s*rel\\s*=\\s*(?:\"(?<rel>[^\"]*)\"|(?<rel>[^\\s;,]+))",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    private static string? NextAfter(string header)
    {
        foreach (System.Text.RegularExpressions.Match link in LinkValue.Matches(header))
        {
            var rel = RelParam.Match(link.Groups["params"].Value);
            if (!rel.Success || !rel.Groups["rel"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("next", StringComparer.OrdinalIgnoreCase)) continue;
            var target = link.Groups["target"].Value;
            var query = target.IndexOf('?') is var q and >= 0 ? target[(q + 1)..] : "";
            return query.Split('&').Where(p => p.StartsWith("after=", StringComparison.OrdinalIgnoreCase))
                .Select(p => Uri.UnescapeDataString(p["after=".Length..])).FirstOrDefault();
        }
        return null;
    }

    public async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var _ = await SendCoreAsync(method, path, body, ct, authorize: true, idempotencyKey: null);
    }

    private async Task<HttpResponseMessage> SendCoreAsync(
        HttpMethod method, string path, object? body, CancellationToken ct, bool authorize, string? idempotencyKey)
    {
        using var request = new HttpRequestMessage(method, path);
        if (authorize && !string.IsNullOrEmpty(apiKey)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.IsSuccessStatusCode) return response;
        using (response) throw await NotificationApiException.FromResponseAsync(method, path, response, ct);
    }

    /// <summary>A query string from the values given (null ones left out), each escaped; dates in ISO 8601 with their offset.</summary>
    public static string Query(string path, params (string Name, object? Value)[] parameters)
    {
        var query = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (value is null) continue;
            var text = value switch
            {
                DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString(),
            };
            query.Append(query.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(text ?? ""));
        }
        return path + query;
    }

    /// <summary>The <c>metadata.&lt;key&gt;=&lt;value&gt;</c> filters, as query parameters.</summary>
    public static IEnumerable<(string, object?)> MetadataFilters(IReadOnlyDictionary<string, string>? metadata) =>
        (metadata ?? new Dictionary<string, string>()).Select(m => ($"metadata.{m.Key}", (object?)m.Value));

    /// <summary>An id as a path segment.</summary>
    public static string Id(Guid id) => id.ToString("D");
}
