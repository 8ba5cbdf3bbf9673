using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Serialization;
using Npgsql;

namespace NotificationService.Bench;

/// <summary>
/// A phase's statements per delivered job: those on a job's path, and the rest (background work) apart, with the
/// background ones listed. The target is judged on both together: a split by call count alone could pass a per-job
/// statement off as background (say one that runs for half the jobs only).
/// </summary>
public sealed record StatementCount(double PerJob, double BackgroundPerJob, IReadOnlyList<BackgroundStatement>? Background = null)
{
    /// <summary>Background work above this per delivered job is flagged in the report: that much is worth a look.</summary>
    public const double BackgroundFlag = 0.2;

    [JsonIgnore] public double Total => Math.Round(PerJob + BackgroundPerJob, 2);
    [JsonIgnore] public bool BackgroundHigh => BackgroundPerJob > BackgroundFlag;
}

/// <summary>A statement counted as background work: its calls per delivered job and the start of its text.</summary>
public sealed record BackgroundStatement(double CallsPerJob, string Query);

/// <summary>
/// What PostgreSQL ran in the bench's database (pg_stat_statements, which `./ns` preloads when the server has it), for
/// `--profile`'s tables and the statements per job of the full bench's half-rate phases.
/// </summary>
public static partial class Statements
{
    public static async Task<bool> AvailableAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var loaded = new NpgsqlCommand("SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'", connection);
        if (!(bool)(await loaded.ExecuteScalarAsync())!) return false;
        await using var create = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", connection);
        await create.ExecuteNonQueryAsync();
        return true;
    }

    /// <summary>
    /// Whether pg_stat_statements also counts planning, for the profile's "planned" column: a statement sent unprepared is
    /// planned on every execution; a prepared one on its first five on each connection, then only while PostgreSQL prefers
    /// a plan for the values given. Server-wide (<c>ALTER SYSTEM</c>: one session cannot set it for the others, so a bench
    /// on a shared server switches it for every database there). The profile switches it on for its phases, its
    /// maximum-rate phase included, and back afterwards; every mode starts by switching it back (Program.cs), to what the
    /// server's configuration says (off unless set there): with many sessions running one statement it costs them time
    /// (PostgreSQL's documentation), pgbench's reference rate included.
    /// </summary>
    public static async Task TrackPlanningAsync(string postgres, bool on)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var set = new NpgsqlCommand(on ? "ALTER SYSTEM SET pg_stat_statements.track_planning = on" : "ALTER SYSTEM RESET pg_stat_statements.track_planning", connection);
        await set.ExecuteNonQueryAsync();
        await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", connection);
        await reload.ExecuteNonQueryAsync();
    }

    /// <summary>Forgets this database's counts only: the server may be shared (other databases, other benches).</summary>
    public static async Task ResetAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var reset = new NpgsqlCommand("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)", connection);
        await reset.ExecuteNonQueryAsync();
    }

    /// <summary>The 25 most called statements since the reset, their calls divided by <paramref name="divisor"/>.</summary>
    public static async Task<string> TopAsync(string postgres, double divisor, string unit)
    {
        var table = new StringBuilder($"| calls {unit} | planned | exec ms total | statement |\n| --- | --- | --- | --- |\n");
        foreach (var (calls, plans, ms, query) in (await ReadAsync(postgres)).Take(25))
            table.AppendLine($"| {calls / Math.Max(divisor, 1):0.00} | {(plans is { } p ? $"{100.0 * p / Math.Max(calls, 1):0} %" : "n/a")} | {ms} | `{Squeeze(query, 140).Replace("|", "\\|")}`" +
                             $"{(IsMartenCastBody(query) ? " (autovacuum's ANALYZE of an index expression: not counted per job)" : "")} |");
        return table.ToString();
    }

    /// <summary>This database's statements since the reset, per delivered job (<see cref="Split"/>).</summary>
    public static async Task<StatementCount> PerJobAsync(string postgres, int jobs, int offers) =>
        Split([.. (await ReadAsync(postgres)).Select(s => (s.Query, s.Calls))], jobs, offers);

    /// <summary>
    /// Calls per delivered job, without transaction control (BEGIN, COMMIT, ROLLBACK: commits per job counts those),
    /// without the bench's own reads (of PostgreSQL's statistics, and of the jobs' state: <see cref="BenchMark"/>) and
    /// without autovacuum's evaluations of the Job's index expressions (<see cref="IsMartenCastBody"/>). A statement on a job's path runs at least once per offer
    /// (once per job, or once per batch of a few); one that ran fewer times than half the offers is background work (the
    /// projection daemon, node agents, outbox recovery), whose count depends on the window's length, not on the jobs.
    /// </summary>
    public static StatementCount Split(IReadOnlyList<(string Query, long Calls)> statements, int jobs, int offers)
    {
        var counted = statements.Where(s => !IsTransactionControl(s.Query) && !IsTheBenchs(s.Query) && !IsMartenCastBody(s.Query)).ToList();
        var perJob = counted.Where(s => s.Calls * 2 >= offers).Sum(s => s.Calls);
        var background = counted.Where(s => s.Calls * 2 < offers).OrderByDescending(s => s.Calls).ToList();
        var divisor = (double)Math.Max(jobs, 1);
        return new StatementCount(Math.Round(perJob / divisor, 2), Math.Round(background.Sum(s => s.Calls) / divisor, 2),
            [.. background.Select(s => new BackgroundStatement(Math.Round(s.Calls / divisor, 3), Squeeze(s.Query, 100)))]);
    }

    /// <summary>
    /// A column alias that marks the bench's own queries of the jobs' state, so that <see cref="Split"/> leaves them out
    /// (an alias, not a comment: pg_stat_statements keeps it in the query text whatever the client does with comments).
    /// </summary>
    public const string BenchMark = "bench_own_read";

    /// <summary>The report's row for a phase: the total judged against the target, the split beside it, flagged when the background is high.</summary>
    public static string Row(string phase, StatementCount? count) =>
        $"| statements per delivered job, {phase} (pg_stat_statements, besides BEGIN/COMMIT: path + background) | " + (count is { } c
            ? string.Create(CultureInfo.InvariantCulture, $"{Text(c)}{(c.BackgroundHigh ? " **background above " + StatementCount.BackgroundFlag.ToString(CultureInfo.InvariantCulture) + " per job: see its statements below**" : "")} | <= 7 | {(c.Total <= 7 ? "yes" : "**no**")} |")
            : "n/a (pg_stat_statements not loaded) | <= 7 | n/a |");

    /// <summary>The total, then how it splits: e.g. "6.9 (6.82 path + 0.08 background)".</summary>
    public static string Text(StatementCount? count) => count is { } c
        ? string.Create(CultureInfo.InvariantCulture, $"{c.Total} ({c.PerJob} path + {c.BackgroundPerJob} background)")
        : "n/a (pg_stat_statements not loaded)";

    /// <summary>The statements counted as background in a phase, most called first (at most 15), for the report.</summary>
    public static string BackgroundTable(string phase, StatementCount? count)
    {
        if (count?.Background is not { Count: > 0 } background) return "";
        var sb = new StringBuilder($"Background statements, {phase} (run fewer times than half the offers):\n\n| calls per delivered job | statement |\n| --- | --- |\n");
        foreach (var s in background.Take(15))
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {s.CallsPerJob} | `{s.Query.Replace("|", "\\|")}` |"));
        if (background.Count > 15) sb.AppendLine($"| | and {background.Count - 15} more |");
        return sb.ToString();
    }

    private static bool IsTheBenchs(string query) =>
        query.Contains("pg_stat_", StringComparison.OrdinalIgnoreCase) || query.Contains(BenchMark, StringComparison.Ordinal);

    /// <summary>
    /// The body of one of Marten's <c>mt_immutable_*</c> casts (<c>select value::timestamptz</c>), which the Job document's
    /// expression indexes call. Inside a statement PostgreSQL runs it nested and pg_stat_statements (track = top) does not
    /// count it, but autovacuum's ANALYZE evaluates the index expressions with no statement around them, so each evaluation
    /// counts as one of its own (bench/README.md, "Statements per job: autovacuum's ANALYZE"). It is
    /// the table's maintenance, not the jobs' work.
    /// </summary>
    public static bool IsMartenCastBody(string query) => MartenCastBody().IsMatch(query);

    [GeneratedRegex(@"^\s*select\s+value::(timestamptz|timestamp|date|time)\s*;?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex MartenCastBody();

    private static bool IsTransactionControl(string query) =>
        query.TrimStart().Split([' ', '\n', '\t', ';'], 2)[0].ToUpperInvariant() is "BEGIN" or "COMMIT" or "ROLLBACK" or "START" or "END";

    private static string Squeeze(string query, int length) => string.Join(' ', query[..Math.Min(query.Length, length)].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Plans are null where planning is not tracked (<see cref="TrackPlanningAsync"/>): pg_stat_statements then counts none.</summary>
    private static async Task<List<(long Calls, long? Plans, decimal ExecMs, string Query)>> ReadAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT s.calls, CASE WHEN current_setting('pg_stat_statements.track_planning')::boolean THEN s.plans END,
                   round(s.total_exec_time::numeric, 1), s.query
            FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
            WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%'
            ORDER BY s.calls DESC
            """, connection);
        var rows = new List<(long, long?, decimal, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1), reader.GetDecimal(2), reader.GetString(3)));
        return rows;
    }
}
