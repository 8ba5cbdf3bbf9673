using System.Reflection;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Operations;

/// <summary>Which ended jobs to re-drive: Failed and/or Expired ones, of an adapter (name), of a service, ended in a window.</summary>
public sealed record RedriveJobs(string? Adapter = null, Guid? Service = null, JobState? State = null, DateTimeOffset? From = null, DateTimeOffset? To = null, bool DryRun = false);

/// <summary>
/// The selection as a re-drive's batches apply it: fixed when the operation starts (<see cref="To"/> is then at the
/// latest the start), so jobs that fail while it runs are not pulled into it.
/// </summary>
/// <param name="AdapterName">The adapter's name with its id: the jobs' index by adapter is by name (an adapter is never
/// renamed), the id keeps a deleted adapter's namesake out. Null in a filter sent before it existed: the id alone.</param>
public sealed record RedriveFilter(Guid? AdapterId, Guid? ServiceId, JobState[] States, DateTimeOffset? From, DateTimeOffset To, string? AdapterName = null)
{
    /// <summary>
    /// Marten's WHERE over the Job documents, after <paramref name="cursor"/> in id order: the jobs' own states and their
    /// params (erased ones are never sent again), the same rule JobLifecycle.OnRedrive decides by.
    /// </summary>
    /// <remarks>The count and the batches are planned for their values (PreparedStatements.PlannedEachTime): a filter may
    /// hold a handful of jobs or most of them, and walking the ids suits the one while the adapter's or service's index
    /// suits the other.</remarks>
    public (string Where, object[] Values) Sql(Guid cursor)
    {
        var where = $"id > ? AND state = ANY(?) AND data->>'paramsErasedAt' IS NULL AND finished_at < ?";
        var values = new List<object> { cursor, States.Select(s => s.ToString()).ToArray(), To };
        if (From is { } from) { where += " AND finished_at >= ?"; values.Add(from); }
        if (AdapterName is { } name) { where += " AND adapter_name = ?"; values.Add(name); }
        if (AdapterId is { } adapter) { where += " AND (data->>'adapterId')::uuid = ?"; values.Add(adapter); }
        if (ServiceId is { } service) { where += " AND service_id = ?"; values.Add(service); }
        return (where, [.. values]);
    }

    public async Task<int> CountAsync(IQuerySession session, CancellationToken ct)
    {
        var (where, values) = Sql(Guid.Empty);
        return (await session.AdvancedSql.QueryAsync<int>($"SELECT count(*)::int FROM {NotificationStore.Schema}.mt_doc_job WHERE {where}{PreparedStatements.PlannedEachTime}", ct, values)).Single();
    }

    public async Task<IReadOnlyList<Job>> NextAsync(IQuerySession session, Guid cursor, int limit, CancellationToken ct)
    {
        var (where, values) = Sql(cursor);
        return await session.QueryAsync<Job>($"WHERE {where} ORDER BY id LIMIT {limit}{PreparedStatements.PlannedEachTime}", ct, values);
    }
}

/// <summary>The answer: in a dry run what would be re-driven (200), otherwise the operation that re-drives it (202, Location).</summary>
public sealed record RedriveAnswer(bool DryRun, int Matched, IReadOnlyList<Guid> SampleIds, Guid? OperationId) : IHttpAware
{
    [JsonIgnore] public string? Location => OperationId is { } id ? $"/admin/operations/{id}" : null;

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(RedriveAnswer), ["application/json"]));
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status202Accepted, typeof(RedriveAnswer), ["application/json"]));
    }

    void IHttpAware.Apply(HttpContext context)
    {
        if (Location is null) return;
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers.Location = Location;
    }
}

public sealed record RedriveSelection(RedriveFilter? Filter, int Matched, IReadOnlyList<Guid> Sample, IReadOnlyList<(string Field, string Message)> Errors);

/// <summary>
/// Bulk re-drive of ended jobs as a new attempt in each job's stream (JobLifecycle.OnRedrive), for the jobs a filter
/// selects. A dry run answers how many and which (a sample); the real one starts an operation whose batches run as
/// durable messages (<see cref="ContinueRedriveHandler"/>), and GET /admin/operations/{id} follows its progress.
/// </summary>
public static class RedriveJobsEndpoint
{
    public static async Task<RedriveSelection> LoadAsync(RedriveJobs? request, IQuerySession session, TimeProvider clock, CancellationToken ct)
    {
        if (request is null) return new(null, 0, [], [("state", "Send a JSON body with the filter.")]);
        var errors = new List<(string, string)>();
        Adapter? adapter = request.Adapter is { } name ? await session.Query<Adapter>().FirstOrDefaultAsync(a => a.Name == name, ct) : null;
        if (request.Adapter is not null && adapter is null) errors.Add(("adapter", "No adapter has this name."));
        if (request.Service is { } service && await session.LoadAsync<ServiceAccount>(service, ct) is null) errors.Add(("service", "No service has this id."));
        if (request.State is { } state && state is not (JobState.Failed or JobState.Expired)) errors.Add(("state", "Only Failed or Expired jobs are re-driven."));
        var now = clock.GetUtcNow();
        if (DeadLetters.WindowError(request.From, request.To ?? now) is { } window) errors.Add(window);
        if (errors.Count > 0) return new(null, 0, [], errors);

        // In UTC: Npgsql writes only UTC DateTimeOffsets to timestamptz (a client's +01:00 would throw).
        var filter = new RedriveFilter(adapter?.Id, request.Service, request.State is { } s ? [s] : [JobState.Failed, JobState.Expired],
            request.From?.ToUniversalTime(), (request.To is { } to && to < now ? to : now).ToUniversalTime(), adapter?.Name);
        var sample = await filter.NextAsync(session, Guid.Empty, DeadLetters.SampleSize, ct);
        return new(filter, sample.Count == 0 ? 0 : await filter.CountAsync(session, ct), sample.Select(j => j.Id).ToList(), []);
    }

    public static ProblemDetails Validate(RedriveSelection selection) =>
        selection.Errors.Count > 0 ? Problems.Invalid([.. selection.Errors]) : WolverineContinue.NoProblems;

    [WolverinePost("/admin/jobs/redrive", OperationId = "redriveJobs")]
    [Tags("Operations")]
    [EndpointSummary("Re-drive failed or expired jobs")]
    [EndpointDescription("Queues every job the filter selects (state Failed or Expired, both when not given; adapter name; service id; from/to on the time the job ended) again as a new attempt in its own stream; an expired job loses its expiry. `dryRun: true` answers how many and a sample (200). Otherwise 202: the re-drive runs in batches as an operation (Location: /admin/operations/{id}, with its progress) that resumes after a restart.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static (RedriveAnswer, IEnumerable<IMartenOp>, OutgoingMessages) Post(RedriveJobs request, [NotBody] RedriveSelection selection, ClaimsPrincipal user, TimeProvider clock)
    {
        if (request.DryRun) return (new(true, selection.Matched, selection.Sample, null), [], []);
        var id = Guid.NewGuid();
        var started = new OperationStarted(id, OperationKind.Redrive, user.Actor(), clock.GetUtcNow(),
            System.Text.Json.JsonSerializer.SerializeToElement(request with { DryRun = false }, OperationsConfiguration.Json), selection.Matched);
        return (new(false, selection.Matched, selection.Sample, id), [MartenOps.StartStream<Operation>(id, started)], [new ContinueRedrive(id, selection.Filter!)]);
    }
}
