using Marten;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Wolverine.Http;

namespace NotificationService.Core.Jobs;

public sealed record JobCount(string Adapter, JobState State, int Count);

public static class CountJobsEndpoint
{
    // page and pageSize mean nothing here, but they shared the search's checks when both lived in one class: kept so the
    // contract (the parameters listed in the API document, the 422 on bad ones) stays as it was.
    public static ProblemDetails Validate(int? page, int? pageSize, DateTimeOffset? from, DateTimeOffset? to) =>
        Paging.Check(page, pageSize) is { } paging ? paging
        : from > to ? Problems.Invalid(("from", "Must not be after 'to'."))
        : WolverineContinue.NoProblems;

    /// <summary>
    /// How many jobs each adapter has in each state, of those created in [from, to): counted by PostgreSQL (GROUP BY on
    /// the Job projection), not loaded. The creation-time bounds are the expression of mt_doc_job_idx_created_at, so a
    /// window (the console's last hour or day) is one range scan of that index rather than a walk of every job.
    /// </summary>
    [WolverineGet("/admin/jobs/counts", OperationId = "countJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Count jobs by adapter and state")]
    [EndpointDescription("How many jobs each adapter has in each state (from the Job projection), of the jobs created at or after 'from' and before 'to' (either may be left out).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<IReadOnlyList<JobCount>> Counts(DateTimeOffset? from, DateTimeOffset? to, IQuerySession session, CancellationToken cancellation)
    {
        var connection = (NpgsqlConnection)session.Connection!;
        if (connection.State != System.Data.ConnectionState.Open) await connection.OpenAsync(cancellation);
        const string createdAt = $"{NotificationStore.Schema}.mt_immutable_timestamptz(data ->> 'createdAt')";
        var bounds = new List<string>();
        await using var command = new NpgsqlCommand { Connection = connection };
        // Npgsql writes only UTC offsets to timestamptz; the instant is the same.
        if (from is { } f) { bounds.Add($"{createdAt} >= @from"); command.Parameters.AddWithValue("from", f.ToUniversalTime()); }
        if (to is { } t) { bounds.Add($"{createdAt} < @to"); command.Parameters.AddWithValue("to", t.ToUniversalTime()); }
        command.CommandText = $"""
            SELECT data ->> 'adapterName', data ->> 'state', count(*)::int FROM {NotificationStore.Schema}.mt_doc_job
            {(bounds.Count == 0 ? "" : "WHERE " + string.Join(" AND ", bounds))}
            GROUP BY 1, 2
            """;
        var counts = new List<JobCount>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
            counts.Add(new JobCount(reader.GetString(0), Enum.Parse<JobState>(reader.GetString(1)), reader.GetInt32(2)));
        return counts.OrderBy(c => c.Adapter).ThenBy(c => c.State).ToList();
    }
}
