namespace NotificationService.Bench;

/// <summary>CPU time used so far by every process on the machine, grouped: which component a job's CPU goes to.</summary>
public static class MachineCpu
{
    public static Dictionary<string, double> Snapshot(Stack stack) =>
        ByProcess(stack).Values.GroupBy(p => p.Group).ToDictionary(g => g.Key, g => g.Sum(p => p.CpuMs));

    /// <summary>
    /// CPU used in between, by group, counted per process: a process that ended in between (a PostgreSQL backend, a build)
    /// takes its whole CPU out of a sum of snapshots, which would then go down.
    /// </summary>
    public static Dictionary<string, double> Between(Dictionary<int, (string Group, double CpuMs)> before, Dictionary<int, (string Group, double CpuMs)> after) =>
        after.GroupBy(kv => kv.Value.Group)
            // A pid reused by a new process in between would count negative: its CPU is then all new.
            .ToDictionary(g => g.Key, g => g.Sum(kv => before.TryGetValue(kv.Key, out var was) && was.CpuMs <= kv.Value.CpuMs ? kv.Value.CpuMs - was.CpuMs : kv.Value.CpuMs));

    public static Dictionary<int, (string Group, double CpuMs)> ByProcess(Stack stack)
    {
        var names = new Dictionary<int, string> { [Environment.ProcessId] = "load generator + receivers (bench)" };
        foreach (var core in stack.Cores) names[core.Pid] = "core";
        foreach (var worker in stack.Workers) names[worker.Pid] = "worker";
        var processes = new Dictionary<int, (string Group, double CpuMs)>();
        foreach (var pid in ProcStat.AllPids())
        {
            if (ProcStat.Read(pid) is not { } process) continue; // ended meanwhile
            var group = names.GetValueOrDefault(pid) ?? process.Command switch
            {
                "postgres" => "PostgreSQL",
                "beam.smp" or "erl_child_setup" or "epmd" or "inet_gethost" => "RabbitMQ",
                _ => "other",
            };
            processes[pid] = (group, process.Cpu.TotalMilliseconds);
        }
        return processes;
    }

    /// <summary>How busy the whole machine was, as a share of all its cores.</summary>
    public static double Share(Dictionary<string, double> before, Dictionary<string, double> after, TimeSpan elapsed) =>
        after.Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key)) / (elapsed.TotalMilliseconds * Environment.ProcessorCount) * 100;

    public static string PerJob(Dictionary<string, double> before, Dictionary<string, double> after, int jobs, TimeSpan elapsed)
    {
        var rows = after.Select(kv => (kv.Key, Ms: kv.Value - before.GetValueOrDefault(kv.Key))).Where(r => r.Ms > 0).OrderByDescending(r => r.Ms).ToList();
        var total = rows.Sum(r => r.Ms);
        var lines = rows.Select(r => $"| {r.Key} | {r.Ms / Math.Max(jobs, 1):0.00} | {r.Ms / elapsed.TotalMilliseconds * 100:0} % |");
        return $"| process | CPU ms per delivered job | share of one core |\n| --- | --- | --- |\n{string.Join("\n", lines)}\n" +
               $"| all | {total / Math.Max(jobs, 1):0.00} | {total / elapsed.TotalMilliseconds * 100:0} % of one core ({Environment.ProcessorCount} cores) |";
    }
}
