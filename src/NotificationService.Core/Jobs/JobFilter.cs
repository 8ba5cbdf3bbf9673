using System.Globalization;
using System.Text;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Jobs;

/// <summary>
/// What the job listings filter on: GET /v1/jobs always within one service, GET /admin/jobs within one or across all.
/// As SQL on the indexes' columns and exact expressions (NotificationStore: mt_doc_job_idx_service_created,
/// _service_state_created, _service_adapter_created, _adapter_created, _state_created, _created_at, _offer_id; the offers'
/// GIN on data -> 'metadata'), so PostgreSQL can read a page off an index in order, and count from the index alone.
/// Which index, and whether to start from the matching offers, depends on the values (a state held by 0.1 % of the jobs
/// or by most), so every statement here is planned for its values (<see cref="PreparedStatements.PlannedEachTime"/>).
/// </summary>
public sealed record JobFilter(
    Guid? ServiceId, JobState? State, string? Adapter, Guid? OfferId, DateTimeOffset? From, DateTimeOffset? To, Dictionary<string, string>? Metadata)
{
    // The duplicated column (NotificationStore), compared with times passed as timestamptz parameters: Npgsql turns the
    // column's value and a parameter's into microseconds alike, so a cursor made from a job's own time finds that job again.
    private const string CreatedAt = "d.created_at";

    /// <summary>
    /// One page newest first (createdAt, then id, descending): after <paramref name="after"/> by keyset, or
    /// <paramref name="offset"/> rows in. One row more than <paramref name="limit"/> tells whether there is a next page.
    /// </summary>
    /// <paramref name="ids"/>, when given, holds every match (MatchIdsSql found them all): the page is then read by id and
    /// sorted, so a rare filter never walks the createdAt index through a million jobs on a wrong estimate.
    public (string Sql, List<object> Args) PageSql(JobCursor? after, int limit, int offset = 0, Guid[]? ids = null)
    {
        if (offset > 0 && ids is null && after is null) return DeepPageSql(limit, offset);
        var (sql, args) = Where("d.data");
        if (ids is not null) { sql.Append(" and d.id = any(?)"); args.Add(ids); }
        if (after is { } cursor)
        {
            // The plain bound lets the planner start a range scan at the cursor whichever index it reads (the row comparison
            // alone bounds only an index whose columns end in (created_at, id), as they all do now).
            sql.Append($" and {CreatedAt} <= ?");
            sql.Append($" and ({CreatedAt}, d.id) < (?, ?)");
            args.AddRange([cursor.CreatedAt, cursor.CreatedAt, cursor.JobId]);
        }
        sql.Append($" order by {OrderBy} limit ?");
        args.Add(limit + 1);
        if (offset > 0) { sql.Append(" offset ?"); args.Add(offset); }
        return (sql.Append(PreparedStatements.PlannedEachTime).ToString(), args);
    }

    /// <summary>
    /// A page <paramref name="offset"/> rows in, by number, where the matches are too many to have been counted: the ids of
    /// its rows first, skipping the rows before it in the index of the filter's columns (an index-only scan), then those
    /// rows' documents. With OFFSET on the documents themselves PostgreSQL read every skipped job's row, 1,001 of them for
    /// page 20 (bench/README.md, "Job searches: the count from the index alone").
    /// </summary>
    private (string Sql, List<object> Args) DeepPageSql(int limit, int offset)
    {
        // The subquery's d is its own row (the same table, shadowing the outer alias): Where writes every filter on d.
        var (ids, args) = Where("d.id");
        ids.Append($" order by {OrderBy} limit ? offset ?");
        args.AddRange([limit + 1, offset]);
        return ($"select d.data from {NotificationStore.Schema}.mt_doc_job d where d.id in ({ids}) order by {OrderBy}{PreparedStatements.PlannedEachTime}", args);
    }

    /// <summary>
    /// The ids of the matching jobs, at most <paramref name="max"/> (Paging.MaxCountedTotal + 1), as one comma-separated
    /// text (at most 37 kB): their number is the count, which stops there, since counting a million matches exactly would
    /// cost every page hundreds of milliseconds.
    /// </summary>
    public (string Sql, List<object> Args) MatchIdsSql(int max)
    {
        var (sql, args) = Where("d.id");
        sql.Append(" limit ?");
        args.Add(max);
        return ($"select coalesce(string_agg(limited.id::text, ','), '') from ({sql}) as limited{PreparedStatements.PlannedEachTime}", args);
    }

    /// <summary>The matching jobs counted by adapter and state (GET /admin/jobs/counts): the same WHERE as the listing's.</summary>
    public (string Sql, List<object> Args) CountByAdapterAndStateSql()
    {
        var (sql, args) = Where("d.adapter_name, d.state, count(*)::int");
        return (sql.Append(" group by 1, 2").Append(PreparedStatements.PlannedEachTime).ToString(), args);
    }

    /// <summary>
    /// Newest first. Within one service the order names the service first, and the service is matched with = any(array)
    /// rather than =, so it stays in the order: only the indexes led by the service (service_created and the others
    /// above) can give that order, and the plain createdAt index, which would hand out every other service's jobs on the
    /// way, cannot (PostgreSQL drops a column compared with = from the order, and then took either). The planner chose
    /// that index for a service holding most jobs, and its first page then read through all the jobs other services
    /// created since that service's newest: 72-139 ms against 2-5 ms in the bench's search phase (bench/README.md,
    /// "A service's first page through other services' jobs").
    /// </summary>
    private string OrderBy => ServiceId is null ? $"{CreatedAt} desc, d.id desc" : $"d.service_id desc, {CreatedAt} desc, d.id desc";

    private (StringBuilder Sql, List<object> Args) Where(string select)
    {
        var sql = new StringBuilder($"select {select} from {NotificationStore.Schema}.mt_doc_job d where true");
        var args = new List<object>();
        void And(string condition, params object[] values) { sql.Append(" and ").Append(condition); args.AddRange(values); }

        if (ServiceId is { } serviceId) And("d.service_id = any(?)", new[] { serviceId }); // see OrderBy
        if (State is { } state) And("d.state = ?", state.ToString());
        if (Adapter is { } adapter) And("d.adapter_name = ?", adapter);
        if (OfferId is { } offerId) And("(d.data ->> 'offerId')::uuid = ?", offerId);
        if (From is { } from) And($"{CreatedAt} >= ?", from);
        if (To is { } to) And($"{CreatedAt} < ?", to);
        // The offer's metadata, not a copy on each job: PATCH and erasure change it in one place, and a job's writes stay as they were.
        if (Metadata is { } metadata)
        {
            var offers = $"select o.id from {NotificationStore.Schema}.mt_doc_offer o where o.data -> 'metadata' @> ?::jsonb";
            if (ServiceId is { } owner) And($"(d.data ->> 'offerId')::uuid in ({offers} and o.service_id = ?)", MetadataFilter.ToContainment(metadata), owner);
            else And($"(d.data ->> 'offerId')::uuid in ({offers})", MetadataFilter.ToContainment(metadata));
        }
        return (sql, args);
    }

    /// <summary>An ISO 8601 time of a listing's query (createdFrom/createdTo, from/to), or an error naming <paramref name="field"/>.</summary>
    public static DateTimeOffset? ParseTime(string? value, string field, List<(string, string)> errors)
    {
        if (value is null) return null;
        if (value.Length >= 10 && char.IsAsciiDigit(value[0])
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return time;
        // A '+' left unencoded in a query string arrives as a space.
        errors.Add((field, "An ISO 8601 time, e.g. 2026-11-30T08:00:00Z (write a '+' offset as %2B)."));
        return null;
    }

    /// <summary>A job state by name (any case), or an error naming <paramref name="field"/>.</summary>
    public static JobState? ParseState(string? value, string field, List<(string, string)> errors)
    {
        if (value is null) return null;
        // Names only: Enum.TryParse would also take "3" or "Queued,Failed".
        if (Enum.GetNames<JobState>().FirstOrDefault(n => n.Equals(value, StringComparison.OrdinalIgnoreCase)) is { } name) return Enum.Parse<JobState>(name);
        errors.Add((field, $"One of {string.Join(", ", Enum.GetNames<JobState>())}."));
        return null;
    }
}
