using System.Globalization;
using System.Text.Json.Serialization;

namespace NotificationService.Bench;

// The bench's results as written to bench/results/*.json (and read back as the previous run's): plain records, apart
// from the code that measures them, so that Core.Tests can compile this file with Comparison.cs and Statements.cs
// (the bench's report, tested in Docs/when_the_bench_compares_with_the_previous_run.cs) without the bench itself.

public sealed record BenchResult(
    DateTimeOffset At, string Machine, bool Quick, double PgBenchTps, double RabbitMqRawPerSecond,
    IReadOnlyList<PhaseResult> Phases, double CorePeakRssMb, double WorkerPeakRssMb,
    double EmailsPerSecond, double? AppriseEmailsPerSecond, double? AppriseUnthrottledEmailsPerSecond, FairnessResult? Fairness = null, SearchResult? Search = null,
    CallbacksResult? Callbacks = null, MillionResult? Million = null, ScaleOutResult? ScaleOut = null,
    double? PgBenchStealPercent = null, double? EmailStealPercent = null);

/// <summary>
/// A target's verdict over windows in which the VM's host took more than <see cref="LimitPercent"/> of the machine's CPU
/// time is void, met or not: the figure then measures the host's other tenants as much as NS. (On 2026-12-06 13:59 pgbench
/// gave 958 tps while the one-target windows lost 38.7-42.7 % of the machine to the host, and the report said "yes" to the
/// ratio to pgbench.) A window whose steal is not known (an older result file, a reading that failed) keeps its verdict.
/// </summary>
public static class HostSteal
{
    public const double LimitPercent = 10;

    public static string Verdict(bool met, params IEnumerable<double?> steal) =>
        steal.Where(s => s > LimitPercent).Max() is { } worst
            ? string.Create(CultureInfo.InvariantCulture, $"void: the host took {worst:0.0} % of the machine's CPU time (over {LimitPercent:0} %)")
            : met ? "yes" : "**no**";

    /// <summary>The machine's CPU times now, to measure the host's steal from with <see cref="Since"/>.</summary>
    public static string? Reading() => ProcStatCpuLine();

    /// <summary>The share of the machine's CPU time the host stole between <paramref name="reading"/> and now; null where unknown.</summary>
    public static double? Since(string? reading) => WaitProfile.StealPercentBetween(reading, ProcStatCpuLine());

    /// <summary>The machine's line of /proc/stat ("cpu ..."); null where there is none.</summary>
    private static string? ProcStatCpuLine()
    {
        try { return File.ReadLines("/proc/stat").FirstOrDefault(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>" (host steal 12.3 %)" where the steal is known, else nothing: for a figure measured outside the load windows.</summary>
    public static string Note(double? steal) =>
        steal is { } s ? string.Create(CultureInfo.InvariantCulture, $" (host steal {s:0.0} %)") : "";
}

/// <summary>The same load with no status callback and with one (started + finished: two callbacks per job) to a fast receiver.</summary>
public sealed record CallbacksResult(PhaseResult Off, PhaseResult On, int CallbacksExpected, int CallbacksReceived, double CallbacksPerSecond);

public sealed record Percentiles(double P50, double P95, double P99)
{
    public static Percentiles Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return new Percentiles(double.NaN, double.NaN, double.NaN);
        var sorted = values.Order().ToArray();
        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new Percentiles(Math.Round(At(0.50), 1), Math.Round(At(0.95), 1), Math.Round(At(0.99), 1));
    }
}

public sealed record PhaseResult(
    string Name, int TargetsPerOffer, double OffersPerSecond, double JobsAcceptedPerSecond, double DeliveredJobsPerSecond, int Jobs,
    int FailedRequests, Percentiles AcceptMs, Percentiles QueuedToFinishedMs, double CommitsPerJob, double CoreCpuMsPerJob, double WorkerCpuMsPerJob,
    StatementCount? Statements = null, double? WalKbPerJob = null, double? WalFullPageImagesPerJob = null, double? BlocksReadPerJob = null,
    double? CoreAllocatedKbPerJob = null, double? WorkerAllocatedKbPerJob = null,
    Percentiles? QueuedToStartedMs = null, Percentiles? StartedToFinishedMs = null, WaitProfile? Waits = null);

/// <summary>One relation's size before and after the seed, in bytes (<see cref="Relation"/>: "table", "toast + maps", "all indexes" or an index).</summary>
public sealed record RelationSize(string Table, string Relation, long Before, long After);

/// <summary>
/// A read path's latency over <see cref="Samples"/> sequential requests, what else ran meanwhile (<see cref="Busy"/>), and
/// the same once the machine settled (<see cref="Settled"/>, the million-job phase's second pass), and the host's steal
/// over each pass (<see cref="HostSteal"/>).
/// </summary>
public sealed record ReadTiming(string Query, int Items, int Samples, Percentiles Ms, Percentiles? Settled = null, string? Busy = null, string? SettledBusy = null,
    double? StealPercent = null, double? SettledStealPercent = null);

public sealed record MillionResult(
    int Jobs, int Offers, int Tenants, double SeedSeconds, double VacuumSeconds, string DaemonAfterSeed,
    PhaseResult EmptyMax, PhaseResult EmptyHalf, PhaseResult Max, PhaseResult Half,
    IReadOnlyList<ReadTiming> Reads, IReadOnlyList<RelationSize> Sizes, double? CheckpointSeconds = null,
    PhaseResult? EmptyMaxAgain = null, PhaseResult? EmptyHalfAgain = null, PhaseResult? MaxAgain = null, PhaseResult? HalfAgain = null);

public sealed record FairnessResult(
    string Name, int FloodJobs, double FloodDeliveredJobsPerSecond, int LightJobs, int LightFailedRequests, Percentiles LightQueuedToFinishedMs,
    double BoundMs, bool Met, Percentiles? LightAcceptMs = null);

public sealed record SearchTiming(string Query, int Items, Percentiles Ms);
public sealed record SearchResult(int TenantJobs, int OtherJobs, double SeedSeconds, IReadOnlyList<SearchTiming> Timings);

/// <summary>One shape of the deployment under the same closed-loop load, with where its CPU went per delivered job.</summary>
public sealed record ScaleOutShape(int Cores, int Workers, PhaseResult Result, IReadOnlyDictionary<string, double> CpuMsPerJob);

public sealed record ScaleOutResult(IReadOnlyList<ScaleOutShape> Shapes)
{
    /// <summary>Two cores and two workers deliver at least as much as one of each (within 5 %, the run-to-run noise of a phase).</summary>
    public bool Met => Shapes.Where(s => s.Cores == 2).All(two => Shapes.Where(s => s.Cores == 1).All(one =>
        two.Result.DeliveredJobsPerSecond >= 0.95 * one.Result.DeliveredJobsPerSecond));
}

/// <summary>
/// A window's samples of PostgreSQL's backends for the bench's database (none when the sampler failed): the average number
/// per sample by whose they were and what they were doing ("core: CPU or runnable": a core's backend running a statement
/// with no wait event; "worker: type:event": a worker's, waiting; "core: idle in transaction": waiting for the core's next
/// statement), and the share of the machine's CPU time its host stole (null where not known).
/// </summary>
public sealed record WaitProfile(int Samples, IReadOnlyDictionary<string, double> ActiveBackends, double? StealPercent)
{
    /// <summary>"core: idle in transaction 5.43, core: LWLock:WALWrite 1.40, worker: CPU or runnable 0.45, core: IO:WALSync 0.39, other 1.12 (150 samples)".</summary>
    public string Backends(int top = 4)
    {
        if (Samples == 0) return "not sampled";
        var sorted = ActiveBackends.OrderByDescending(kv => kv.Value).ToList();
        var shown = sorted.Take(top).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:0.00}"));
        var rest = sorted.Skip(top).Sum(kv => kv.Value);
        var backends = string.Join(", ", shown) + (rest > 0 ? string.Create(CultureInfo.InvariantCulture, $", other {rest:0.00}") : "");
        return $"{(backends.Length > 0 ? backends : "none active")} ({Samples} samples)";
    }

    [JsonIgnore]
    public string Steal => StealPercent is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s:0.0} %") : "n/a";

    /// <summary>
    /// The share of all CPU time that was steal between two readings of /proc/stat's "cpu" line (user nice system idle
    /// iowait irq softirq steal guest guest_nice, in clock ticks; guest time is already in user, so the first eight are
    /// the total). Null when either is missing or unreadable, or no time passed.
    /// </summary>
    public static double? StealPercentBetween(string? before, string? after)
    {
        static long[]? Ticks(string? line)
        {
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields is not { Length: >= 9 } || fields[0] != "cpu") return null;
            var ticks = new long[8];
            for (var i = 0; i < 8; i++)
                if (!long.TryParse(fields[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out ticks[i])) return null;
            return ticks;
        }
        if (Ticks(before) is not { } a || Ticks(after) is not { } b) return null;
        var total = b.Sum() - a.Sum();
        return total > 0 ? Math.Round(100.0 * (b[7] - a[7]) / total, 1) : null;
    }
}
