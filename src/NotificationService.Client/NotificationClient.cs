using static NotificationService.Client.ApiConnection;

namespace NotificationService.Client;

/// <summary>
/// The client (<c>/v1</c>) API with a service key: send notifications (offers), follow and search their jobs, manage
/// callback endpoints. Register it with <see cref="NotificationClientRegistration.AddNotificationClient"/>, or construct
/// it on an HttpClient whose BaseAddress is the service's root. Every error answer throws <see cref="NotificationApiException"/>.
/// </summary>
public sealed class NotificationClient
{
    private readonly ApiConnection _api;

    /// <param name="http">its BaseAddress is the service's root (with a trailing slash if it has a path)</param>
    /// <param name="apiKey">the service key (<c>nss_...</c>); null only to call <see cref="RegisterAsync"/></param>
    public NotificationClient(HttpClient http, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(http);
        _api = new ApiConnection(http, apiKey);
    }

    // Offers

    /// <summary>
    /// Sends a notification. An <c>Idempotency-Key</c> goes with every call: <paramref name="idempotencyKey"/>, or a new
    /// GUID. The GUID makes a retry of this same request (a resilience handler resending it) safe; a caller that retries
    /// by calling again must pass its own key (e.g. its order id), or it sends the notification twice. A retry with the
    /// same key returns the first answer and creates nothing; the same key with another body is a 422.
    /// </summary>
    [ApiOperation("POST", "/v1/offers")]
    public Task<OfferAccepted> CreateOfferAsync(CreateOfferRequest offer, string? idempotencyKey = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(offer);
        return _api.SendAsync<OfferAccepted>(HttpMethod.Post, "v1/offers", offer, ct, idempotencyKey: idempotencyKey ?? Guid.NewGuid().ToString("D"));
    }

    /// <summary>This service's offers, newest first.</summary>
    /// <param name="metadata">only offers whose metadata holds each of these pairs</param>
    [ApiOperation("GET", "/v1/offers")]
    public Task<PagedResult<OfferSummary>> ListOffersAsync(
        int? page = null, int? pageSize = null, IReadOnlyDictionary<string, string>? metadata = null, CancellationToken ct = default) =>
        _api.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get,
            Query("v1/offers", [("page", page), ("pageSize", pageSize), .. MetadataFilters(metadata)]), null, ct);

    /// <summary>The offer with its jobs' current states.</summary>
    [ApiOperation("GET", "/v1/offers/{id}")]
    public Task<OfferView> GetOfferAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<OfferView>(HttpMethod.Get, $"v1/offers/{Id(id)}", null, ct);

    /// <summary>Changes an offer's expiry, send time, metadata or its jobs' params (see <see cref="UpdateOfferRequest"/>).</summary>
    [ApiOperation("PATCH", "/v1/offers/{id}")]
    public Task<OfferView> UpdateOfferAsync(Guid id, UpdateOfferRequest change, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return _api.SendAsync<OfferView>(HttpMethod.Patch, $"v1/offers/{Id(id)}", change, ct);
    }

    /// <summary>Cancels every unfinished job of the offer and marks it deleted; its history stays readable.</summary>
    [ApiOperation("DELETE", "/v1/offers/{id}")]
    public Task<OfferDeleted> DeleteOfferAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<OfferDeleted>(HttpMethod.Delete, $"v1/offers/{Id(id)}", null, ct);

    /// <summary>Erases the offer's metadata and its jobs' params now (a job not started is canceled first).</summary>
    [ApiOperation("POST", "/v1/offers/{id}/erase")]
    public Task<OfferErased> EraseOfferAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<OfferErased>(HttpMethod.Post, $"v1/offers/{Id(id)}/erase", null, ct);

    // Jobs

    [ApiOperation("GET", "/v1/jobs/{id}")]
    public Task<JobView> GetJobAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<JobView>(HttpMethod.Get, $"v1/jobs/{Id(id)}", null, ct);

    /// <summary>The job's event stream, oldest first (JobQueued, JobStarted, JobFinished, ...).</summary>
    [ApiOperation("GET", "/v1/jobs/{id}/events")]
    public Task<IReadOnlyList<HistoryEntry>> GetJobEventsAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<HistoryEntry>>(HttpMethod.Get, $"v1/jobs/{Id(id)}/events", null, ct);

    /// <summary>Cancels a job: at once if it has not started; one being sent is asked to stop (409 if it already ended).</summary>
    [ApiOperation("POST", "/v1/jobs/{id}/cancel")]
    public Task<CancelRequested> CancelJobAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<CancelRequested>(HttpMethod.Post, $"v1/jobs/{Id(id)}/cancel", null, ct);

    /// <summary>One page of this service's jobs, newest first; pass <see cref="JobPage.Next"/> as the next search's cursor.</summary>
    [ApiOperation("GET", "/v1/jobs")]
    public Task<JobPage> SearchJobsAsync(JobSearch? search = null, CancellationToken ct = default)
    {
        search ??= new JobSearch();
        return _api.SendAsync<JobPage>(HttpMethod.Get, Query("v1/jobs",
        [
            ("state", search.State), ("adapter", search.Adapter), ("offerId", search.OfferId), ("createdFrom", search.CreatedFrom),
            ("createdTo", search.CreatedTo), .. MetadataFilters(search.Metadata), ("limit", search.Limit), ("cursor", search.Cursor),
        ]), null, ct);
    }

    /// <summary>Every job the search finds, page after page (each page one request, made as the enumeration reaches it).</summary>
    public async IAsyncEnumerable<JobView> SearchAllJobsAsync(
        JobSearch? search = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        search ??= new JobSearch();
        while (true)
        {
            var page = await SearchJobsAsync(search, ct);
            foreach (var job in page.Items) yield return job;
            if (page.Next is null) yield break;
            search = search with { Cursor = page.Next };
        }
    }

    // Adapters and limits

    /// <summary>The active adapters this service may use, each with the JSON Schema its params must follow.</summary>
    [ApiOperation("GET", "/v1/adapters")]
    public Task<IReadOnlyList<ClientAdapterView>> ListAdaptersAsync(CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<ClientAdapterView>>(HttpMethod.Get, "v1/adapters", null, ct);

    /// <summary>This service's limits and how much of them it uses now.</summary>
    [ApiOperation("GET", "/v1/limits")]
    public Task<LimitsView> GetLimitsAsync(CancellationToken ct = default) =>
        _api.SendAsync<LimitsView>(HttpMethod.Get, "v1/limits", null, ct);

    // Callbacks

    /// <summary>Registers a callback endpoint; keep the returned <see cref="CallbackCreated.Secret"/>: it is shown only here.</summary>
    [ApiOperation("POST", "/v1/callbacks")]
    public Task<CallbackCreated> CreateCallbackAsync(CreateCallbackRequest callback, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return _api.SendAsync<CallbackCreated>(HttpMethod.Post, "v1/callbacks", callback, ct);
    }

    [ApiOperation("GET", "/v1/callbacks")]
    public Task<IReadOnlyList<CallbackView>> ListCallbacksAsync(CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<CallbackView>>(HttpMethod.Get, "v1/callbacks", null, ct);

    [ApiOperation("GET", "/v1/callbacks/{id}")]
    public Task<CallbackView> GetCallbackAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<CallbackView>(HttpMethod.Get, $"v1/callbacks/{Id(id)}", null, ct);

    [ApiOperation("DELETE", "/v1/callbacks/{id}")]
    public Task DeleteCallbackAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync(HttpMethod.Delete, $"v1/callbacks/{Id(id)}", null, ct);

    /// <summary>Enables a callback that was disabled for failing, and clears its failure count.</summary>
    [ApiOperation("POST", "/v1/callbacks/{id}/enable")]
    public Task<CallbackView> EnableCallbackAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<CallbackView>(HttpMethod.Post, $"v1/callbacks/{Id(id)}/enable", null, ct);

    /// <summary>The callback's delivery attempts, newest first; pass <see cref="CallbackDeliveryPage.Next"/> as the next cursor.</summary>
    [ApiOperation("GET", "/v1/callbacks/{id}/deliveries")]
    public Task<CallbackDeliveryPage> ListCallbackDeliveriesAsync(Guid id, int? limit = null, string? cursor = null, CancellationToken ct = default) =>
        _api.SendAsync<CallbackDeliveryPage>(HttpMethod.Get, Query($"v1/callbacks/{Id(id)}/deliveries", ("limit", limit), ("cursor", cursor)), null, ct);

    // Registration

    // Templates

    /// <summary>Creates a template (409 if this service already has the key).</summary>
    [ApiOperation("POST", "/v1/templates")]
    public Task<TemplateAdded> CreateTemplateAsync(CreateTemplateRequest template, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(template);
        return _api.SendAsync<TemplateAdded>(HttpMethod.Post, "v1/templates", template, ct);
    }

    /// <summary>This service's templates and the shared ones granted to it, by key.</summary>
    [ApiOperation("GET", "/v1/templates")]
    public Task<PagedResult<TemplateSummary>> ListTemplatesAsync(int? page = null, int? pageSize = null, CancellationToken ct = default) =>
        _api.SendAsync<PagedResult<TemplateSummary>>(HttpMethod.Get, Query("v1/templates", ("page", page), ("pageSize", pageSize)), null, ct);

    /// <summary>The template this service means by the key: its own, else a shared one.</summary>
    [ApiOperation("GET", "/v1/templates/{key}")]
    public Task<TemplateView> GetTemplateAsync(string key, CancellationToken ct = default) =>
        _api.SendAsync<TemplateView>(HttpMethod.Get, $"v1/templates/{Uri.EscapeDataString(key)}", null, ct);

    /// <summary>Sets or removes locale variants and may move the default locale; each change is a new version.</summary>
    [ApiOperation("PATCH", "/v1/templates/{key}")]
    public Task<TemplateView> UpdateTemplateAsync(string key, UpdateTemplateRequest change, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return _api.SendAsync<TemplateView>(HttpMethod.Patch, $"v1/templates/{Uri.EscapeDataString(key)}", change, ct);
    }

    [ApiOperation("DELETE", "/v1/templates/{key}")]
    public Task<TemplateRemoved> DeleteTemplateAsync(string key, CancellationToken ct = default) =>
        _api.SendAsync<TemplateRemoved>(HttpMethod.Delete, $"v1/templates/{Uri.EscapeDataString(key)}", null, ct);

    /// <summary>The template's events, oldest first: one per version.</summary>
    [ApiOperation("GET", "/v1/templates/{key}/history")]
    public Task<IReadOnlyList<HistoryEntry>> GetTemplateHistoryAsync(string key, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<HistoryEntry>>(HttpMethod.Get, $"v1/templates/{Uri.EscapeDataString(key)}/history", null, ct);

    /// <summary>Renders with sample data and checks the result as an offer would; sends nothing.</summary>
    [ApiOperation("POST", "/v1/templates/{key}/preview")]
    public Task<TemplatePreview> PreviewTemplateAsync(string key, PreviewTemplateRequest preview, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(preview);
        return _api.SendAsync<TemplatePreview>(HttpMethod.Post, $"v1/templates/{Uri.EscapeDataString(key)}/preview", preview, ct);
    }

    /// <summary>Registers a new service with an invite code (no key needed); keep the returned key: it is shown only here.</summary>
    [ApiOperation("POST", "/v1/register")]
    public Task<ServiceCreated> RegisterAsync(string name, string inviteCode, CancellationToken ct = default) =>
        _api.SendAsync<ServiceCreated>(HttpMethod.Post, "v1/register", new { name, inviteCode }, ct, authorize: false);
}
