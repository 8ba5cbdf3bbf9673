using System.Diagnostics;
using System.Text;

namespace NotificationService.Bench;

/// <summary>
/// `./ns bench --profile`: where a delivered job's transactions and CPU go. A steady one-target load at a fixed rate,
/// with PostgreSQL's statement counts (pg_stat_statements) per delivered job, the background statements of an idle
/// stack per second and, when dotnet-trace is installed, the running time by frame of the core and the worker; the same
/// job rate as ten-target offers, with its statements; then a maximum-rate phase with its statements and the CPU per job
/// of every process on the machine.
/// </summary>
public static class Profile
{
    public static async Task<int> RunAsync(string root, string postgres, string rabbitMq)
    {
        const double rate = 50;
        var window = TimeSpan.FromSeconds(20);
        var output = Path.Combine(root, ".local", "profile");
        Directory.CreateDirectory(output);
        var report = new StringBuilder();
        void Say(string line) { Console.WriteLine(line); report.AppendLine(line); }

        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq);
        var webhook = await stack.CreateAdapterAsync("profile-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        var load = new Load(stack, receivers, postgres);
        object Payload(int i) => new { payload = new { i } };
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, TimeSpan.FromSeconds(10), 8);

        var statements = await Statements.AvailableAsync(postgres);
        if (!statements) Say("pg_stat_statements is not loaded (shared_preload_libraries); statement counts are skipped.");
        else await Statements.TrackPlanningAsync(postgres, on: true);

        Say($"## Idle stack (core + webhook worker, no load), 10 s");
        if (statements) await Statements.ResetAsync(postgres);
        var idleCommits = await Database.CommitsAsync(postgres);
        await Task.Delay(TimeSpan.FromSeconds(10));
        Say($"{(await Database.CommitsAsync(postgres) - idleCommits) / 10.0:0.0} commits/s");
        if (statements) Say(await Statements.TopAsync(postgres, 10.0, "per second"));

        Say($"## {rate} one-target offers/s for {window.TotalSeconds:0} s");
        if (statements) await Statements.ResetAsync(postgres);
        var traces = StartTraces(output, window, ("core", stack.Cores[0].Pid), ("worker", stack.Workers[0].Pid));
        var phase = await load.RunAsync("profile", webhook.Name, Payload, 1, window, 0, rate);
        Say($"delivered {phase.Jobs} jobs, {phase.CommitsPerJob} commits/job, CPU ms/job core {phase.CoreCpuMsPerJob} + worker {phase.WorkerCpuMsPerJob}, " +
            $"allocated KB/job core {phase.CoreAllocatedKbPerJob?.ToString() ?? "n/a"} + worker {phase.WorkerAllocatedKbPerJob?.ToString() ?? "n/a"}, accept p50/p99 {phase.AcceptMs.P50}/{phase.AcceptMs.P99} ms, queued->finished p50/p99 {phase.QueuedToFinishedMs.P50}/{phase.QueuedToFinishedMs.P99} ms");
        Say(Waits(phase));
        if (statements) Say(await StatementsPerJobAsync(postgres, phase.Jobs, 1));

        foreach (var (name, trace, process) in traces)
        {
            await process.WaitForExitAsync();
            if (!File.Exists(trace)) { Say($"no trace for the {name}: {await process.StandardError.ReadToEndAsync()}"); continue; }
            await ExecAsync("dotnet-trace", $"convert {trace} --format Speedscope -o {Path.ChangeExtension(trace, null)}");
            Say($"## {name}: where its threads ran (not waited), from sampled stacks");
            Say(RunningTime.Report(Path.ChangeExtension(trace, ".speedscope.json"), top: 30));
        }

        // The same job rate as ten-target offers: what one offer's statements (its insert, its outbox rows' delete, the
        // offer gate) cost when ten jobs share them.
        Say($"## {rate / 10} ten-target offers/s for {window.TotalSeconds:0} s");
        if (statements) await Statements.ResetAsync(postgres);
        var ten = await load.RunAsync("profile-ten", webhook.Name, Payload, 10, window, 0, rate / 10);
        Say($"delivered {ten.Jobs} jobs, {ten.CommitsPerJob} commits/job, allocated KB/job core {ten.CoreAllocatedKbPerJob?.ToString() ?? "n/a"} + worker {ten.WorkerAllocatedKbPerJob?.ToString() ?? "n/a"}, accept p50/p99 {ten.AcceptMs.P50}/{ten.AcceptMs.P99} ms, " +
            $"queued->finished p50/p99 {ten.QueuedToFinishedMs.P50}/{ten.QueuedToFinishedMs.P99} ms");
        Say(Waits(ten));
        if (statements) Say(await StatementsPerJobAsync(postgres, ten.Jobs, 10));

        Say("## Maximum rate: 32 clients posting one-target offers for 15 s");
        var cpuBefore = MachineCpu.Snapshot(stack);
        var clock = Stopwatch.StartNew();
        var max = await load.RunAsync("profile-max", webhook.Name, Payload, 1, TimeSpan.FromSeconds(15), 32, countStatements: statements);
        Say(MachineCpu.PerJob(cpuBefore, MachineCpu.Snapshot(stack), max.Jobs, clock.Elapsed));
        Say($"accepted {max.OffersPerSecond} offers/s, delivered {max.DeliveredJobsPerSecond} jobs/s, {max.CommitsPerJob} commits/job, " +
            $"CPU ms/job core {max.CoreCpuMsPerJob} + worker {max.WorkerCpuMsPerJob}, allocated KB/job core {max.CoreAllocatedKbPerJob?.ToString() ?? "n/a"} + worker {max.WorkerAllocatedKbPerJob?.ToString() ?? "n/a"}, " +
            $"peak RSS core {stack.Cores[0].PeakRssMb():0} MB, worker {stack.Workers[0].PeakRssMb():0} MB");
        Say(Waits(max));
        // Where group commits and batches share statements between jobs, which they do more at this rate than at 50/s.
        if (statements) Say(await StatementsPerJobAsync(postgres, max.Jobs, 1));
        if (statements) await Statements.TrackPlanningAsync(postgres, on: false);

        // Is the accept tail the core's own, or the core waiting for CPU the other processes hold? The same rate twice:
        // with the worker delivering, then with it stopped (its jobs wait in the queue), so only its share changes.
        var halfRate = Math.Round(Math.Min(max.OffersPerSecond, max.DeliveredJobsPerSecond) / 2);
        Say($"## Accept latency at {halfRate} one-target offers/s for 15 s: with the worker delivering, then with it stopped");
        var cpuWith = MachineCpu.Snapshot(stack);
        clock.Restart();
        var with = await load.RunAsync("with-worker", webhook.Name, Payload, 1, TimeSpan.FromSeconds(15), 0, halfRate);
        var cpuShareWith = MachineCpu.Share(cpuWith, MachineCpu.Snapshot(stack), clock.Elapsed);
        await stack.Workers[0].KillAsync();
        var cpuWithout = MachineCpu.Snapshot(stack);
        clock.Restart();
        var without = await load.RunAsync("without-worker", webhook.Name, Payload, 1, TimeSpan.FromSeconds(15), 0, halfRate, drain: false);
        var cpuShareWithout = MachineCpu.Share(cpuWithout, MachineCpu.Snapshot(stack), clock.Elapsed);
        Say("| worker | accept p50 / p95 / p99 ms | machine CPU busy |\n| --- | --- | --- |");
        Say($"| delivering | {with.AcceptMs.P50} / {with.AcceptMs.P95} / {with.AcceptMs.P99} | {cpuShareWith:0} % |");
        Say($"| stopped | {without.AcceptMs.P50} / {without.AcceptMs.P95} / {without.AcceptMs.P99} | {cpuShareWithout:0} % |");

        var file = Path.Combine(output, $"profile-{DateTime.UtcNow:yyyyMMdd-HHmmss}.md");
        await File.WriteAllTextAsync(file, report.ToString());
        Console.WriteLine($"Written: {file} (traces beside it, open them in PerfView or speedscope)");
        return 0;
    }

    private static string Waits(PhaseResult phase) => phase.Waits is { } waits
        ? $"PostgreSQL's backends in a statement or a transaction, average per sample: {waits.Backends(6)}; host steal {waits.Steal}"
        : "PostgreSQL's backends: not sampled";

    /// <summary>The statements per delivered job, their total first (as the full bench counts it: Statements.Split).</summary>
    private static async Task<string> StatementsPerJobAsync(string postgres, int jobs, int targets) =>
        $"{(await Statements.PerJobAsync(postgres, jobs, jobs / targets)).PerJob} statements per delivered job besides BEGIN/COMMIT\n" +
        await Statements.TopAsync(postgres, jobs, "per delivered job");

    private static List<(string Name, string Trace, Process Process)> StartTraces(string output, TimeSpan window, params (string Name, int Pid)[] targets)
    {
        var traces = new List<(string, string, Process)>();
        foreach (var (name, pid) in targets)
        {
            var trace = Path.Combine(output, $"{name}.nettrace");
            File.Delete(trace);
            try
            {
                var process = Process.Start(new ProcessStartInfo("dotnet-trace",
                    $"collect -p {pid} --profile dotnet-sampled-thread-time --duration 00:00:00:{window.TotalSeconds:00} -o {trace}")
                {
                    RedirectStandardOutput = true, RedirectStandardError = true,
                })!;
                traces.Add((name, trace, process));
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Console.WriteLine("dotnet-trace is not installed (dotnet tool install -g dotnet-trace): no running time by frame.");
                break;
            }
        }
        return traces;
    }

    private static async Task<string> ExecAsync(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var text = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return text.TrimEnd();
    }
}
