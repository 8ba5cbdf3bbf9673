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
    public static ProblemDetails Validate(int? page, int? pageSize, string? from, string? to)
    {
        if (Paging.Check(page, pageSize) is { } paging) return paging;
        // The listing's own parsing (AssumeUniversal; a 422 naming the field), so /admin/jobs/counts and /admin/jobs agree.
        var errors = new List<(string Field, string Message)>();
        var (parsedFrom, parsedTo) = (JobFilter.ParseTime(from, "from", errors), JobFilter.ParseTime(to, "to", errors));
        if (parsedFrom > parsedTo) errors.Add(("from", "Must not be after 'to'."));
        return errors.Count > 0 ? Problems.Invalid([.. errors]) : WolverineContinue.NoProblems;
    }

    /// <summary>
    /// How many jobs each adapter has in each state, of those created in [from, to): counted by PostgreSQL (GROUP BY on
    /// the Job projection), not loaded. The WHERE is the listing's (<see cref="JobFilter"/>): the creation-time bounds are
    /// the column of mt_doc_job_idx_created_at, so a window (the console's last hour or day) is one range scan of that
    /// index rather than a walk of every job, and a job is in a window's counts exactly when /admin/jobs lists it there.
    /// </summary>
    [WolverineGet("/admin/jobs/counts", OperationId = "countJobs")]
    [Tags("Jobs")]
    [EndpointSummary("Count jobs by adapter and state")]
    [EndpointDescription("How many jobs each adapter has in each state (from the Job projection), of the jobs created at or after 'from' and before 'to' (either may be left out; ISO 8601, UTC when no offset is given, as in GET /admin/jobs).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<IReadOnlyList<JobCount>> Counts(string? from, string? to, IQuerySession session, CancellationToken cancellation)
    {
        var errors = new List<(string, string)>();
        var filter = new JobFilter(null, null, null, null, JobFilter.ParseTime(from, "from", errors), JobFilter.ParseTime(to, "to", errors), null);
        var (sql, args) = filter.CountByAdapterAndStateSql();
        var connection = await session.OpenConnectionAsync(cancellation);
        // The filter writes Marten's '?' placeholders; Npgsql takes them positionally as $1, $2, ...
        var n = 0;
        await using var command = new NpgsqlCommand(System.Text.RegularExpressions.Regex.Replace(sql, @"\?", _ => $"${++n}"), connection);
        foreach (var arg in args) command.Parameters.Add(new NpgsqlParameter { Value = arg });
        var counts = new List<JobCount>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
            counts.Add(new JobCount(reader.GetString(0), Enum.Parse<JobState>(reader.GetString(1)), reader.GetInt32(2)));
        return counts.OrderBy(c => c.Adapter).ThenBy(c => c.State).ToList();
    }
}
