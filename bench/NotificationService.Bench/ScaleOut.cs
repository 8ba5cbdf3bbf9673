using System.Text;
using System.Text.Json;

namespace NotificationService.Bench;

/// <summary>
/// `./ns bench --scale-out [--quick]` (and a phase of the full bench): the one-target load at the maximum rate (32
/// clients) on one core + one webhook worker, then on two cores + two workers (offers spread over the cores, the workers
/// competing consumers of one queue), then on one of each again. All on this machine's cores, so more processes cannot
/// add CPU: the point is that nothing serialises (delivered jobs/s must not drop), and the per-process CPU per job is the
/// input of bench/README.md's capacity model. The third window tells drift (tables growing, the machine) from the shape.
/// </summary>
public static class ScaleOut
{
    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq);
        var webhook = await stack.CreateAdapterAsync("bench-webhook", "webhook",
            new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        var load = new Load(stack, receivers, postgres);
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, TimeSpan.FromSeconds(quick ? 2 : 5), 8);
        var result = await RunAsync(stack, load, webhook, quick);
        Console.WriteLine();
        Console.WriteLine(Report(result));
        Console.WriteLine(JsonSerializer.Serialize(result));
        return result.Met ? 0 : 1;
    }

    private static object Payload(int i) => new { payload = new { i } };

    /// <summary>Runs on a stack of one core and one worker of <paramref name="webhook"/>, and leaves it so.</summary>
    public static async Task<ScaleOutResult> RunAsync(Stack stack, Load load, (Guid Id, string Name, string Key) webhook, bool quick)
    {
        var window = TimeSpan.FromSeconds(quick ? 4 : 20);
        Console.WriteLine("-- scale-out: 1 core + 1 worker, 2 cores + 2 workers, 1 + 1 again (1 target per offer, 32 clients, same machine)");
        // Each new process is warmed up at the full load first: 5 s at 8 clients left the first window with the core still
        // compiling (its CPU per job three times the third window's, 2026-12-01).
        var warmUp = TimeSpan.FromSeconds(quick ? 2 : 15);
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, warmUp, 32);
        var shapes = new List<ScaleOutShape> { await MeasureAsync(stack, load, webhook.Name, window) };
        await stack.StartCoreAsync();
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, warmUp, 32);
        shapes.Add(await MeasureAsync(stack, load, webhook.Name, window));
        await stack.StopLastCoreAndWorkerAsync();
        shapes.Add(await MeasureAsync(stack, load, webhook.Name, window));
        return new ScaleOutResult(shapes);
    }

    private static async Task<ScaleOutShape> MeasureAsync(Stack stack, Load load, string adapter, TimeSpan window)
    {
        // Live ones only: an earlier phase of the full bench (fairness) leaves its killed worker in the stack's list.
        var (cores, workers) = (stack.Cores.Count(c => !c.HasExited), stack.Workers.Count(w => !w.HasExited));
        var before = MachineCpu.ByProcess(stack);
        var result = await load.RunAsync($"{cores} core(s) + {workers} worker(s)", adapter, Payload, 1, window, 32);
        var used = MachineCpu.Between(before, MachineCpu.ByProcess(stack));
        var delivered = Math.Max(1, result.Jobs);
        var perJob = used.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value / delivered, 2));
        Console.WriteLine($"   {cores} + {workers}: delivered {result.DeliveredJobsPerSecond} jobs/s, accept p99 {result.AcceptMs.P99} ms, CPU ms/job " +
                          string.Join(", ", perJob.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        return new ScaleOutShape(cores, workers, result, perJob);
    }

    public static string Report(ScaleOutResult r)
    {
        var sb = new StringBuilder();
        var groups = new[] { "PostgreSQL", "core", "worker", "RabbitMQ", "load generator + receivers (bench)", "other" };
        sb.AppendLine();
        sb.AppendLine("Scale-out on one machine (1 target per offer, 32 clients; CPU ms per delivered job by process):");
        sb.AppendLine();
        sb.AppendLine($"| cores + workers | delivered jobs/s | accept p50 / p99 ms | {string.Join(" | ", groups)} | all |");
        sb.AppendLine($"| --- | --- | --- | {string.Join(" | ", groups.Select(_ => "---"))} | --- |");
        foreach (var s in r.Shapes)
            sb.AppendLine($"| {s.Cores} + {s.Workers} | {s.Result.DeliveredJobsPerSecond} | {s.Result.AcceptMs.P50} / {s.Result.AcceptMs.P99} | " +
                          $"{string.Join(" | ", groups.Select(g => s.CpuMsPerJob.GetValueOrDefault(g).ToString("0.00")))} | {s.CpuMsPerJob.Values.Sum():0.00} |");
        sb.AppendLine();
        sb.AppendLine($"Two cores + two workers deliver at least 95 % of one + one (5 %: a phase's run-to-run noise on this machine): {HostSteal.Verdict(r.Met, r.Shapes.Select(s => s.Result.Waits?.StealPercent))}. " +
                      "CPU of processes that ended within a window (a PostgreSQL backend) is not counted.");
        return sb.ToString();
    }
}
