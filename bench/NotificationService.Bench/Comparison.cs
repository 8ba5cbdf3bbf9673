using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NotificationService.Bench;

/// <summary>One measure of two runs; null where a run has no such value (an older result file, a phase not run).</summary>
public sealed record ComparisonRow(string Measure, double? Previous, double? Now)
{
    public double? ChangePercent => Previous is { } p && Now is { } n && p != 0 ? Math.Round((n - p) / p * 100, 1) : null;
}

/// <summary>
/// "Compared with the previous run": issue 14's measures of this run beside those of the newest earlier result file of
/// the same kind (a full run with full runs, a quick one with quick ones: their windows differ, so their figures do too).
/// </summary>
public static class Comparison
{
    public static IReadOnlyList<ComparisonRow> Rows(BenchResult previous, BenchResult now)
    {
        ComparisonRow Row(string measure, Func<BenchResult, double?> value) => new(measure, Finite(value(previous)), Finite(value(now)));
        return
        [
            Row("delivered jobs/s, 1 target, maximum rate", r => Phase(r, 0)?.DeliveredJobsPerSecond),
            Row("delivered jobs/s, 10 targets, maximum rate", r => Phase(r, 2)?.DeliveredJobsPerSecond),
            Row("best delivered jobs/s / pgbench tps", r => r.Phases is { Count: > 0 } phases && r.PgBenchTps > 0
                ? Math.Round(phases.Max(p => p.DeliveredJobsPerSecond) / r.PgBenchTps, 3) : null),
            Row("accept p99 ms, half rate, 1 target", r => Phase(r, 1)?.AcceptMs?.P99),
            Row("PostgreSQL commits per delivered job, maximum rate, 1 target", r => Phase(r, 0)?.CommitsPerJob),
            Row("statements per delivered job, half rate, 1 target", r => Phase(r, 1)?.Statements?.PerJob),
            Row("statements per delivered job, half rate, 10 targets", r => Phase(r, 3)?.Statements?.PerJob),
            Row("million finished jobs: delivered jobs/s, 1 target, maximum rate", r => r.Million?.Max?.DeliveredJobsPerSecond),
            Row("million finished jobs: accept p99 ms, half rate, 1 target", r => r.Million?.Half?.AcceptMs?.P99),
        ];
    }

    /// <summary>The newest result in <paramref name="directory"/> of the same kind that ran before <paramref name="before"/>; files that do not read as a result are passed over.</summary>
    public static (BenchResult Result, string File)? FindPrevious(string directory, bool quick, DateTimeOffset before)
    {
        if (!Directory.Exists(directory)) return null;
        // The names are the runs' UTC timestamps (yyyyMMdd-HHmmss), so the newest sorts last.
        foreach (var file in Directory.GetFiles(directory, "*.json").OrderDescending(StringComparer.Ordinal))
        {
            BenchResult? result;
            try { result = JsonSerializer.Deserialize<BenchResult>(File.ReadAllText(file)); }
            catch (Exception e) when (e is JsonException or NotSupportedException or IOException) { continue; }
            if (result is { Phases: not null } && result.Quick == quick && result.At < before) return (result, file);
        }
        return null;
    }

    public static string Report(BenchResult now, (BenchResult Result, string File)? previous, string root)
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Compared with the previous run");
        sb.AppendLine();
        if (previous is not { } p)
        {
            sb.AppendLine($"No earlier {(now.Quick ? "quick" : "full")} run's result file: nothing to compare with.");
            return sb.ToString();
        }
        sb.AppendLine($"With `{Path.GetRelativePath(root, p.File)}`, run {p.Result.At.ToUniversalTime():yyyy-MM-dd HH:mm} UTC on {p.Result.Machine}.");
        sb.AppendLine();
        sb.AppendLine("| Measure | previous | now | change |");
        sb.AppendLine("| --- | --- | --- | --- |");
        foreach (var row in Rows(p.Result, now))
            sb.AppendLine($"| {row.Measure} | {Text(row.Previous)} | {Text(row.Now)} | {(row.ChangePercent is { } c ? c.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " %" : "n/a")} |");
        return sb.ToString();

        static string Text(double? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "n/a";
    }

    private static PhaseResult? Phase(BenchResult r, int index) => r.Phases is { } phases && phases.Count > index ? phases[index] : null;

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;
}
