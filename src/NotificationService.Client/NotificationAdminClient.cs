using static NotificationService.Client.ApiConnection;

namespace NotificationService.Client;

/// <summary>
/// The admin (<c>/admin</c>) API with an admin key: services and their keys, limits and retention, adapters, invites,
/// jobs of every service, erasures, callbacks on a service's behalf. Register it with
/// <see cref="NotificationClientRegistration.AddNotificationAdminClient"/>. Every error answer throws <see cref="NotificationApiException"/>.
/// </summary>
public sealed class NotificationAdminClient
{
    private readonly ApiConnection _api;

    /// <param name="http">its BaseAddress is the service's root (with a trailing slash if it has a path)</param>
    /// <param name="apiKey">an admin key</param>
    public NotificationAdminClient(HttpClient http, string apiKey)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        _api = new ApiConnection(http, apiKey);
    }

    // Services

    /// <summary>Creates a service (tenant); keep the returned key: it is shown only here. A taken name is a 409.</summary>
    [ApiOperation("POST", "/admin/services")]
    public Task<ServiceCreated> CreateServiceAsync(string name, CancellationToken ct = default) =>
        _api.SendAsync<ServiceCreated>(HttpMethod.Post, "admin/services", new { name }, ct);

    [ApiOperation("GET", "/admin/services")]
    public Task<IReadOnlyList<ServiceView>> ListServicesAsync(CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<ServiceView>>(HttpMethod.Get, "admin/services", null, ct);

    /// <summary>One page of the services (<paramref name="limit"/> 1 to 200); pass <see cref="ListPage{T}.Next"/> as the next call's <paramref name="after"/>.</summary>
    [ApiOperation("GET", "/admin/services")]
    public Task<ListPage<ServiceView>> ListServicesAsync(int limit, string? after = null, CancellationToken ct = default) =>
        _api.SendPageAsync<ServiceView>(Query("admin/services", ("limit", limit), ("after", after)), ct);

    /// <summary>The service with its keys, the limits set for it and its retention.</summary>
    [ApiOperation("GET", "/admin/services/{id}")]
    public Task<ServiceView> GetServiceAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<ServiceView>(HttpMethod.Get, $"admin/services/{Id(id)}", null, ct);

    [ApiOperation("PATCH", "/admin/services/{id}")]
    public Task<ServiceSummary> RenameServiceAsync(Guid id, string name, CancellationToken ct = default) =>
        _api.SendAsync<ServiceSummary>(HttpMethod.Patch, $"admin/services/{Id(id)}", new { name }, ct);

    /// <summary>A blocked service's keys get 403 until it is unblocked.</summary>
    [ApiOperation("POST", "/admin/services/{id}/block")]
    public Task<ServiceSummary> BlockServiceAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<ServiceSummary>(HttpMethod.Post, $"admin/services/{Id(id)}/block", null, ct);

    [ApiOperation("POST", "/admin/services/{id}/unblock")]
    public Task<ServiceSummary> UnblockServiceAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<ServiceSummary>(HttpMethod.Post, $"admin/services/{Id(id)}/unblock", null, ct);

    /// <summary>Every admin change to the service: event type, who, when.</summary>
    [ApiOperation("GET", "/admin/services/{id}/history")]
    public Task<IReadOnlyList<HistoryEntry>> GetServiceHistoryAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<HistoryEntry>>(HttpMethod.Get, $"admin/services/{Id(id)}/history", null, ct);

    /// <summary>Issues another key (rotation: issue, switch, revoke the old); shown only here.</summary>
    [ApiOperation("POST", "/admin/services/{id}/keys")]
    public Task<KeyIssued> IssueServiceKeyAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<KeyIssued>(HttpMethod.Post, $"admin/services/{Id(id)}/keys", null, ct);

    /// <summary>Revokes a key: its next request gets 401.</summary>
    [ApiOperation("DELETE", "/admin/services/{id}/keys/{keyId}")]
    public Task<KeyRevoked> RevokeServiceKeyAsync(Guid id, Guid keyId, CancellationToken ct = default) =>
        _api.SendAsync<KeyRevoked>(HttpMethod.Delete, $"admin/services/{Id(id)}/keys/{Id(keyId)}", null, ct);

    [ApiOperation("GET", "/admin/services/{id}/limits")]
    public Task<ServiceLimitsView> GetServiceLimitsAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<ServiceLimitsView>(HttpMethod.Get, $"admin/services/{Id(id)}/limits", null, ct);

    /// <summary>Sets a service's limits (a merge patch: see <see cref="ServiceLimitsPatch"/>).</summary>
    [ApiOperation("PATCH", "/admin/services/{id}/limits")]
    public Task<ServiceLimitsView> SetServiceLimitsAsync(Guid id, ServiceLimitsPatch patch, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(patch);
        return _api.SendAsync<ServiceLimitsView>(HttpMethod.Patch, $"admin/services/{Id(id)}/limits", patch, ct);
    }

    /// <summary>Sets a service's retention (a merge patch: see <see cref="RetentionPatch"/>).</summary>
    [ApiOperation("PATCH", "/admin/services/{id}/retention")]
    public Task<RetentionView> SetServiceRetentionAsync(Guid id, RetentionPatch patch, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(patch);
        return _api.SendAsync<RetentionView>(HttpMethod.Patch, $"admin/services/{Id(id)}/retention", patch, ct);
    }

    // Callbacks on a service's behalf

    /// <summary>Registers a callback endpoint for the service; keep the returned secret: it is shown only here.</summary>
    [ApiOperation("POST", "/admin/services/{id}/callbacks")]
    public Task<CallbackCreated> CreateServiceCallbackAsync(Guid serviceId, CreateCallbackRequest callback, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return _api.SendAsync<CallbackCreated>(HttpMethod.Post, $"admin/services/{Id(serviceId)}/callbacks", callback, ct);
    }

    [ApiOperation("GET", "/admin/services/{id}/callbacks")]
    public Task<IReadOnlyList<CallbackView>> ListServiceCallbacksAsync(Guid serviceId, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<CallbackView>>(HttpMethod.Get, $"admin/services/{Id(serviceId)}/callbacks", null, ct);

    [ApiOperation("DELETE", "/admin/services/{id}/callbacks/{callbackId}")]
    public Task DeleteServiceCallbackAsync(Guid serviceId, Guid callbackId, CancellationToken ct = default) =>
        _api.SendAsync(HttpMethod.Delete, $"admin/services/{Id(serviceId)}/callbacks/{Id(callbackId)}", null, ct);

    [ApiOperation("POST", "/admin/services/{id}/callbacks/{callbackId}/enable")]
    public Task<CallbackView> EnableServiceCallbackAsync(Guid serviceId, Guid callbackId, CancellationToken ct = default) =>
        _api.SendAsync<CallbackView>(HttpMethod.Post, $"admin/services/{Id(serviceId)}/callbacks/{Id(callbackId)}/enable", null, ct);

    // Adapters

    /// <summary>Every adapter type this build knows, with its config schema, default params schema and secret fields.</summary>
    [ApiOperation("GET", "/admin/adapter-types")]
    public Task<IReadOnlyList<AdapterTypeView>> ListAdapterTypesAsync(CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<AdapterTypeView>>(HttpMethod.Get, "admin/adapter-types", null, ct);

    /// <summary>Creates an adapter; the returned worker key (<c>nsa_...</c>) is shown only here.</summary>
    [ApiOperation("POST", "/admin/adapters")]
    public Task<AdapterCreated> CreateAdapterAsync(CreateAdapterRequest adapter, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        return _api.SendAsync<AdapterCreated>(HttpMethod.Post, "admin/adapters", adapter, ct);
    }

    [ApiOperation("GET", "/admin/adapters")]
    public Task<IReadOnlyList<AdapterView>> ListAdaptersAsync(CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<AdapterView>>(HttpMethod.Get, "admin/adapters", null, ct);

    /// <summary>One page of the adapters (<paramref name="limit"/> 1 to 200); pass <see cref="ListPage{T}.Next"/> as the next call's <paramref name="after"/>.</summary>
    [ApiOperation("GET", "/admin/adapters")]
    public Task<ListPage<AdapterView>> ListAdaptersAsync(int limit, string? after = null, CancellationToken ct = default) =>
        _api.SendPageAsync<AdapterView>(Query("admin/adapters", ("limit", limit), ("after", after)), ct);

    [ApiOperation("GET", "/admin/adapters/{id}")]
    public Task<AdapterView> GetAdapterAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<AdapterView>(HttpMethod.Get, $"admin/adapters/{Id(id)}", null, ct);

    /// <summary>Reconfigures an adapter (see <see cref="UpdateAdapterRequest"/>); running workers take a new config or policy when restarted.</summary>
    [ApiOperation("PATCH", "/admin/adapters/{id}")]
    public Task<AdapterView> UpdateAdapterAsync(Guid id, UpdateAdapterRequest change, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return _api.SendAsync<AdapterView>(HttpMethod.Patch, $"admin/adapters/{Id(id)}", change, ct);
    }

    /// <summary>A blocked adapter refuses new offers at once; its workers stop taking jobs within seconds.</summary>
    [ApiOperation("POST", "/admin/adapters/{id}/block")]
    public Task<AdapterView> BlockAdapterAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<AdapterView>(HttpMethod.Post, $"admin/adapters/{Id(id)}/block", null, ct);

    [ApiOperation("POST", "/admin/adapters/{id}/unblock")]
    public Task<AdapterView> UnblockAdapterAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<AdapterView>(HttpMethod.Post, $"admin/adapters/{Id(id)}/unblock", null, ct);

    /// <summary>Deletes an adapter with no unfinished jobs (409 otherwise); its history stays.</summary>
    [ApiOperation("DELETE", "/admin/adapters/{id}")]
    public Task<AdapterRemoved> DeleteAdapterAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<AdapterRemoved>(HttpMethod.Delete, $"admin/adapters/{Id(id)}", null, ct);

    [ApiOperation("GET", "/admin/adapters/{id}/history")]
    public Task<IReadOnlyList<HistoryEntry>> GetAdapterHistoryAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<HistoryEntry>>(HttpMethod.Get, $"admin/adapters/{Id(id)}/history", null, ct);

    // Invites

    /// <summary>Creates a one-time registration code (for <see cref="NotificationClient.RegisterAsync"/>); shown only here.</summary>
    [ApiOperation("POST", "/admin/invites")]
    public Task<InviteCreated> CreateInviteAsync(CreateInviteRequest? invite = null, CancellationToken ct = default) =>
        _api.SendAsync<InviteCreated>(HttpMethod.Post, "admin/invites", invite ?? new CreateInviteRequest(), ct);

    [ApiOperation("GET", "/admin/invites")]
    public Task<IReadOnlyList<InviteView>> ListInvitesAsync(CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<InviteView>>(HttpMethod.Get, "admin/invites", null, ct);

    /// <summary>One page of the invites (<paramref name="limit"/> 1 to 200); pass <see cref="ListPage{T}.Next"/> as the next call's <paramref name="after"/>.</summary>
    [ApiOperation("GET", "/admin/invites")]
    public Task<ListPage<InviteView>> ListInvitesAsync(int limit, string? after = null, CancellationToken ct = default) =>
        _api.SendPageAsync<InviteView>(Query("admin/invites", ("limit", limit), ("after", after)), ct);

    [ApiOperation("GET", "/admin/invites/{id}")]
    public Task<InviteView> GetInviteAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<InviteView>(HttpMethod.Get, $"admin/invites/{Id(id)}", null, ct);

    /// <summary>Revokes an unused invite (409 once used).</summary>
    [ApiOperation("DELETE", "/admin/invites/{id}")]
    public Task<InviteView> RevokeInviteAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<InviteView>(HttpMethod.Delete, $"admin/invites/{Id(id)}", null, ct);

    // Jobs

    /// <summary>Jobs of every service, newest first; pass <see cref="AdminJobPage.Next"/> as the next search's <see cref="AdminJobSearch.After"/> (or page by number).</summary>
    [ApiOperation("GET", "/admin/jobs")]
    public Task<AdminJobPage> SearchJobsAsync(AdminJobSearch? search = null, CancellationToken ct = default)
    {
        search ??= new AdminJobSearch();
        return _api.SendAsync<AdminJobPage>(HttpMethod.Get, Query("admin/jobs",
        [
            ("state", search.State), ("adapter", search.Adapter), ("service", search.Service), ("offerId", search.OfferId), ("from", search.From),
            ("to", search.To), .. MetadataFilters(search.Metadata), ("page", search.Page), ("pageSize", search.PageSize), ("after", search.After),
        ]), null, ct);
    }

    /// <summary>How many jobs each adapter has in each state.</summary>
    [ApiOperation("GET", "/admin/jobs/counts")]
    public Task<IReadOnlyList<JobCount>> CountJobsAsync(CancellationToken ct = default) => CountJobsAsync(null, null, ct);

    /// <summary>How many jobs each adapter has in each state, of those created at or after <paramref name="from"/> and before <paramref name="to"/>.</summary>
    [ApiOperation("GET", "/admin/jobs/counts")]
    public Task<IReadOnlyList<JobCount>> CountJobsAsync(DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<JobCount>>(HttpMethod.Get, Query("admin/jobs/counts", ("from", from), ("to", to)), null, ct);

    [ApiOperation("GET", "/admin/jobs/{id}")]
    public Task<AdminJobView> GetJobAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<AdminJobView>(HttpMethod.Get, $"admin/jobs/{Id(id)}", null, ct);

    /// <summary>The job's events, with each failure's provider detail.</summary>
    [ApiOperation("GET", "/admin/jobs/{id}/events")]
    public Task<IReadOnlyList<HistoryEntry>> GetJobEventsAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<HistoryEntry>>(HttpMethod.Get, $"admin/jobs/{Id(id)}/events", null, ct);

    /// <summary>Re-drives a Failed job as a new attempt (409 for any other state).</summary>
    [ApiOperation("POST", "/admin/jobs/{id}/retry")]
    public Task<RetryRequested> RetryJobAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<RetryRequested>(HttpMethod.Post, $"admin/jobs/{Id(id)}/retry", null, ct);

    /// <summary>Rebuilds the Job, Adapter and ServiceAccount documents from the event streams; run it in a quiet moment.</summary>
    [ApiOperation("POST", "/admin/projections/rebuild")]
    public Task<ProjectionsRebuilt> RebuildProjectionsAsync(CancellationToken ct = default) =>
        _api.SendAsync<ProjectionsRebuilt>(HttpMethod.Post, "admin/projections/rebuild", null, ct);

    /// <summary>Each projection's progress and lag behind the event store, and whether a rebuild runs.</summary>
    [ApiOperation("GET", "/admin/projections")]
    public Task<ProjectionsStatus> GetProjectionsAsync(CancellationToken ct = default) =>
        _api.SendAsync<ProjectionsStatus>(HttpMethod.Get, "admin/projections", null, ct);

    // Operations: dead letters, re-drive, the operators' audit trail

    /// <summary>Dead letters, newest first, a page by number (<see cref="DeadLetterSearch.Page"/>); to page by cursor use <see cref="ListDeadLettersByCursorAsync"/>.</summary>
    [ApiOperation("GET", "/admin/dead-letters")]
    public Task<PagedResult<DeadLetterView>> ListDeadLettersAsync(DeadLetterSearch? search = null, CancellationToken ct = default)
    {
        search ??= new DeadLetterSearch();
        // A page by cursor has no number, which this answer's type cannot hold: the cursor has its own method.
        if (search.After is not null) throw new ArgumentException($"{nameof(DeadLetterSearch.After)} pages by cursor: call {nameof(ListDeadLettersByCursorAsync)}.", nameof(search));
        return _api.SendAsync<PagedResult<DeadLetterView>>(HttpMethod.Get, DeadLettersQuery(search), null, ct);
    }

    /// <summary>Dead letters, newest first; pass <see cref="KeysetPage{T}.Next"/> as the next search's <see cref="DeadLetterSearch.After"/> (or page by number).</summary>
    [ApiOperation("GET", "/admin/dead-letters")]
    public Task<KeysetPage<DeadLetterView>> ListDeadLettersByCursorAsync(DeadLetterSearch? search = null, CancellationToken ct = default) =>
        _api.SendAsync<KeysetPage<DeadLetterView>>(HttpMethod.Get, DeadLettersQuery(search ?? new DeadLetterSearch()), null, ct);

    private static string DeadLettersQuery(DeadLetterSearch search) => Query("admin/dead-letters",
        ("adapter", search.Adapter), ("messageType", search.MessageType), ("exceptionType", search.ExceptionType), ("failure", search.Failure),
        ("from", search.From), ("to", search.To), ("page", search.Page), ("pageSize", search.PageSize), ("after", search.After));

    /// <summary>Dead letters grouped by failure (exception type and message shape), largest group first.</summary>
    [ApiOperation("GET", "/admin/dead-letters/groups")]
    public Task<IReadOnlyList<DeadLetterGroup>> ListDeadLetterGroupsAsync(string? adapter = null, string? messageType = null, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        _api.SendAsync<IReadOnlyList<DeadLetterGroup>>(HttpMethod.Get, Query("admin/dead-letters/groups",
            ("adapter", adapter), ("messageType", messageType), ("from", from), ("to", to)), null, ct);

    [ApiOperation("GET", "/admin/dead-letters/{id}")]
    public Task<DeadLetterView> GetDeadLetterAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<DeadLetterView>(HttpMethod.Get, $"admin/dead-letters/{Id(id)}", null, ct);

    /// <summary>Replays dead letters (a job's re-drives its job as a new attempt); with DryRun, only says what it would do.</summary>
    [ApiOperation("POST", "/admin/dead-letters/replay")]
    public Task<DeadLettersReplayed> ReplayDeadLettersAsync(DeadLetterSelection selection, CancellationToken ct = default) =>
        _api.SendAsync<DeadLettersReplayed>(HttpMethod.Post, "admin/dead-letters/replay", selection, ct);

    /// <summary>Deletes dead letters for good; with DryRun, only says which.</summary>
    [ApiOperation("POST", "/admin/dead-letters/discard")]
    public Task<DeadLettersDiscarded> DiscardDeadLettersAsync(DeadLetterSelection selection, CancellationToken ct = default) =>
        _api.SendAsync<DeadLettersDiscarded>(HttpMethod.Post, "admin/dead-letters/discard", selection, ct);

    /// <summary>Re-drives ended jobs by filter as a new attempt each; with DryRun, how many and a sample. Follow it with <see cref="GetOperationAsync"/>.</summary>
    [ApiOperation("POST", "/admin/jobs/redrive")]
    public Task<RedriveAnswer> RedriveJobsAsync(RedriveJobs filter, CancellationToken ct = default) =>
        _api.SendAsync<RedriveAnswer>(HttpMethod.Post, "admin/jobs/redrive", filter, ct);

    /// <summary>The operators' actions (replays, discards, re-drives, rebuilds), newest first, a page by number; by cursor: <see cref="ListOperationsByCursorAsync"/>.</summary>
    [ApiOperation("GET", "/admin/operations")]
    public Task<PagedResult<OperationView>> ListOperationsAsync(OperationKind? kind = null, int? page = null, int? pageSize = null, CancellationToken ct = default) =>
        _api.SendAsync<PagedResult<OperationView>>(HttpMethod.Get, Query("admin/operations", ("kind", kind), ("page", page), ("pageSize", pageSize)), null, ct);

    /// <summary>The operators' actions, newest first; <paramref name="after"/>: the previous page's <see cref="KeysetPage{T}.Next"/> (null: the first page).</summary>
    [ApiOperation("GET", "/admin/operations")]
    public Task<KeysetPage<OperationView>> ListOperationsByCursorAsync(OperationKind? kind = null, int? pageSize = null, string? after = null, CancellationToken ct = default) =>
        _api.SendAsync<KeysetPage<OperationView>>(HttpMethod.Get, Query("admin/operations", ("kind", kind), ("pageSize", pageSize), ("after", after)), null, ct);

    [ApiOperation("GET", "/admin/operations/{id}")]
    public Task<OperationView> GetOperationAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<OperationView>(HttpMethod.Get, $"admin/operations/{Id(id)}", null, ct);

    // Erasures

    /// <summary>Erases the params of every job, of any service, that holds this email address or phone number.</summary>
    [ApiOperation("POST", "/admin/erasures")]
    public Task<RecipientErased> EraseRecipientAsync(string recipient, CancellationToken ct = default) =>
        _api.SendAsync<RecipientErased>(HttpMethod.Post, "admin/erasures", new { recipient }, ct);

    /// <summary>The audit list of erasures, newest first, a page by number; by cursor: <see cref="ListErasuresByCursorAsync"/>.</summary>
    [ApiOperation("GET", "/admin/erasures")]
    public Task<PagedResult<ErasureRecord>> ListErasuresAsync(int? page = null, int? pageSize = null, CancellationToken ct = default) =>
        _api.SendAsync<PagedResult<ErasureRecord>>(HttpMethod.Get, Query("admin/erasures", ("page", page), ("pageSize", pageSize)), null, ct);

    /// <summary>The audit list of erasures, newest first; <paramref name="after"/>: the previous page's <see cref="KeysetPage{T}.Next"/> (null: the first page).</summary>
    [ApiOperation("GET", "/admin/erasures")]
    public Task<KeysetPage<ErasureRecord>> ListErasuresByCursorAsync(int? pageSize = null, string? after = null, CancellationToken ct = default) =>
        _api.SendAsync<KeysetPage<ErasureRecord>>(HttpMethod.Get, Query("admin/erasures", ("pageSize", pageSize), ("after", after)), null, ct);

    // Shared templates

    /// <summary>A template the given services see next to their own (their own key wins).</summary>
    [ApiOperation("POST", "/admin/templates")]
    public Task<SharedTemplateAdded> CreateSharedTemplateAsync(CreateSharedTemplateRequest template, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(template);
        return _api.SendAsync<SharedTemplateAdded>(HttpMethod.Post, "admin/templates", template, ct);
    }

    [ApiOperation("GET", "/admin/templates")]
    public Task<PagedResult<SharedTemplateView>> ListSharedTemplatesAsync(int? page = null, int? pageSize = null, CancellationToken ct = default) =>
        _api.SendAsync<PagedResult<SharedTemplateView>>(HttpMethod.Get, Query("admin/templates", ("page", page), ("pageSize", pageSize)), null, ct);

    [ApiOperation("GET", "/admin/templates/{id}")]
    public Task<SharedTemplateView> GetSharedTemplateAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<SharedTemplateView>(HttpMethod.Get, $"admin/templates/{Id(id)}", null, ct);

    [ApiOperation("DELETE", "/admin/templates/{id}")]
    public Task<TemplateRemoved> DeleteSharedTemplateAsync(Guid id, CancellationToken ct = default) =>
        _api.SendAsync<TemplateRemoved>(HttpMethod.Delete, $"admin/templates/{Id(id)}", null, ct);
}
