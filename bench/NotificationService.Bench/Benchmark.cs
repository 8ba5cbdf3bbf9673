using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace NotificationService.Bench;

/// <summary>
/// `./ns bench`: the webhook profile (one and ten targets per offer, at the maximum sustained rate and at half of it)
/// and the email profile beside Apprise, with this machine's PostgreSQL and RabbitMQ limits measured in the same run;
/// last, the one-target phase again over a million seeded finished jobs (Million.cs).
/// </summary>
public static class Benchmark
{
    public static async Task<int> RunAsync(string root, string postgres, string rabbitMq, bool quick)
    {
        var window = TimeSpan.FromSeconds(quick ? 4 : 20);
        Console.WriteLine($"== Benchmark ({(quick ? "quick smoke" : $"{window.TotalSeconds:0} s windows")}), everything on 127.0.0.1");

        Console.WriteLine("-- machine limits");
        var hostBefore = HostSteal.Reading();
        var pgbench = await Limits.PgBenchAsync(postgres, quick ? 3 : 10);
        // The ratio to pgbench is only as good as pgbench's own seconds: the host's steal in them is kept beside it.
        var pgbenchSteal = HostSteal.Since(hostBefore);
        Console.WriteLine($"   pgbench, 8 clients, single-row INSERT: {pgbench:0} tps{HostSteal.Note(pgbenchSteal)}");
        // The raw measurement declares a queue of its own, which the core's user may not: the operator's user does it.
        var rabbitRaw = await Limits.RabbitMqAsync(Environment.GetEnvironmentVariable("NS_RABBITMQ_OPERATOR") is { Length: > 0 } op ? op : rabbitMq, quick ? 5_000 : 50_000);
        Console.WriteLine($"   RabbitMQ.Client publish (confirms) + consume, 1 KB persistent: {rabbitRaw:0} msg/s");

        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        stack.CoreSettings["Callbacks__AllowPrivateNetwork"] = "true"; // the callbacks phase's receiver is on 127.0.0.1
        await stack.StartCoreAsync();
        await stack.CreateServiceAsync();
        var webhook = await stack.CreateAdapterAsync("bench-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        var load = new Load(stack, receivers, postgres);
        object Payload(int i) => new { payload = new { i } };

        var phases = new List<PhaseResult>();
        async Task<PhaseResult> Phase(string name, int targets, int clients, double? rate = null)
        {
            Console.WriteLine($"-- {name}");
            // Statements are counted at half rate, where every job is delivered within the window and its short drain.
            var result = await load.RunAsync(name, webhook.Name, Payload, targets, window, clients, rate, countStatements: rate is not null);
            Console.WriteLine($"   accepted {result.JobsAcceptedPerSecond} jobs/s ({result.OffersPerSecond} offers/s), delivered {result.DeliveredJobsPerSecond} jobs/s, " +
                              $"accept p99 {result.AcceptMs.P99} ms, queued->finished p99 {result.QueuedToFinishedMs.P99} ms, {result.CommitsPerJob} commits/job" +
                              (rate is null ? "" : $", statements/job {Statements.Text(result.Statements)}"));
            phases.Add(result);
            Memory();
            return result;
        }
        // The core's peak RSS is read once, before the million-job phase; this says which phase raised it.
        void Memory() => Console.WriteLine($"   core RSS {stack.Cores[0].RssMb():0} MB, peak so far {stack.Cores[0].PeakRssMb():0} MB");

        // The million-job phase compares itself with these first two phases, and warms up the same way.
        await Million.WarmUpAsync(load, webhook.Name, window);
        Memory();
        var max = await Phase("1 target per offer, maximum rate (32 clients)", 1, 32);
        var sustained = Math.Min(max.OffersPerSecond, max.DeliveredJobsPerSecond);
        await Phase($"1 target per offer, half the sustained rate ({sustained / 2:0} offers/s)", 1, 0, sustained / 2);
        var maxTen = await Phase("10 targets per offer, maximum rate (16 clients)", 10, 16);
        var sustainedTen = Math.Min(maxTen.OffersPerSecond, maxTen.DeliveredJobsPerSecond / 10);
        await Phase($"10 targets per offer, half the sustained rate ({sustainedTen / 2:0} offers/s)", 10, 0, sustainedTen / 2);

        var fairness = await Fairness.RunAsync(stack, receivers, postgres, quick);
        Memory();
        var callbacks = await CallbacksAsync(stack, receivers, load, webhook.Name, Payload, window);
        Memory();
        var search = await Search.RunAsync(stack, postgres, quick);
        Memory();
        var scaleOut = await ScaleOut.RunAsync(stack, load, webhook, quick);
        Memory();

        var email = await Email.RunAsync(stack, receivers, load, quick);
        Memory();

        // Read before the million-job phase, which restarts the core.
        var (corePeakRss, workerPeakRss) = (stack.Cores[0].PeakRssMb(), stack.Workers[0].PeakRssMb());
        var million = await Million.RunAsync(stack, receivers, load, (webhook.Id, webhook.Name), postgres, quick, window, phases[0], phases[1]);

        var result = new BenchResult(DateTimeOffset.UtcNow, $"{Environment.ProcessorCount} cores, {Environment.MachineName}", quick, Math.Round(pgbench),
            Math.Round(rabbitRaw), phases, Math.Round(corePeakRss, 1), Math.Round(workerPeakRss, 1),
            Math.Round(email.EmailsPerSecond, 1), email.Apprise is { } ap ? Math.Round(ap.Default, 2) : null, email.Apprise is { } au ? Math.Round(au.Unthrottled, 1) : null,
            fairness, search, callbacks, million, scaleOut, pgbenchSteal, email.StealPercent);
        // A quick run's figures are compared with the previous quick run's, kept out of the repository.
        var directory = quick ? Path.Combine(root, ".local", "bench") : Path.Combine(root, "bench", "results");
        var markdown = Report(result) + Environment.NewLine + Comparison.Report(result, Comparison.FindPrevious(directory, quick, result.At), root);
        Console.WriteLine();
        Console.WriteLine(markdown);
        Directory.CreateDirectory(directory);
        var stamp = result.At.ToString("yyyyMMdd-HHmmss");
        await File.WriteAllTextAsync(Path.Combine(directory, $"{stamp}.json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        await File.WriteAllTextAsync(Path.Combine(directory, $"{stamp}.md"), markdown);
        Console.WriteLine($"Written: {Path.GetRelativePath(root, directory)}/{stamp}.json and .md");
        // The fairness bound is a pass/fail criterion of the bench (issue 11): a miss fails the run, --quick included.
        return fairness.Met ? 0 : 1;
    }

    /// <summary>`--callbacks`: the status-callbacks phase alone, on a stack of its own (one core, one webhook worker).</summary>
    public static async Task<int> RunCallbacksAloneAsync(string root, string postgres, string rabbitMq, bool quick)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        stack.CoreSettings["Callbacks__AllowPrivateNetwork"] = "true";
        await stack.StartCoreAsync();
        await stack.CreateServiceAsync();
        var webhook = await stack.CreateAdapterAsync("bench-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        var load = new Load(stack, receivers, postgres);
        object Payload(int i) => new { payload = new { i } };
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, TimeSpan.FromSeconds(quick ? 2 : 5), 8);
        var result = await CallbacksAsync(stack, receivers, load, webhook.Name, Payload, TimeSpan.FromSeconds(quick ? 4 : 20));
        return result.CallbacksReceived >= result.CallbacksExpected ? 0 : 1;
    }

    /// <summary>
    /// What status callbacks cost: the same closed-loop load (1 target, 16 clients) without a callback, then with one
    /// registered for the default events (started, finished) to a receiver that answers at once. The callback is deleted
    /// afterwards, so the phases after this one run without.
    /// </summary>
    private static async Task<CallbacksResult> CallbacksAsync(Stack stack, Receivers receivers, Load load, string adapter, Func<int, object> payload, TimeSpan window)
    {
        Console.WriteLine("-- status callbacks: the same load without and with a callback (started + finished)");
        var off = await load.RunAsync("1 target per offer, 16 clients, no callback", adapter, payload, 1, window, 16);
        var callback = await stack.ServiceAsync("/v1/callbacks", new { url = receivers.CallbackUrl });
        var before = receivers.CallbackTotal;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var on = await load.RunAsync("1 target per offer, 16 clients, one callback", adapter, payload, 1, window, 16);
        var expected = on.Jobs * 2;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (receivers.CallbackTotal - before < expected && DateTime.UtcNow < deadline) await Task.Delay(100);
        var received = receivers.CallbackTotal - before;
        var perSecond = received / Math.Max(0.001, System.Diagnostics.Stopwatch.GetElapsedTime(started, receivers.LastCallbackAt).TotalSeconds);
        await stack.ServiceDeleteAsync($"/v1/callbacks/{callback.GetProperty("id").GetGuid()}");
        Console.WriteLine($"   delivered {off.DeliveredJobsPerSecond} jobs/s without, {on.DeliveredJobsPerSecond} jobs/s with a callback " +
                          $"(core CPU {off.CoreCpuMsPerJob} -> {on.CoreCpuMsPerJob} ms/job, {off.CommitsPerJob} -> {on.CommitsPerJob} commits/job); " +
                          $"{received} of {expected} callbacks received, {perSecond:0} callbacks/s");
        return new CallbacksResult(off, on, expected, received, Math.Round(perSecond, 1));
    }

    public static string Report(BenchResult r)
    {
        var max = r.Phases[0];
        var half = r.Phases[1];
        var sb = new StringBuilder();
        sb.AppendLine($"Run {r.At:yyyy-MM-dd HH:mm} UTC on {r.Machine}{(r.Quick ? " (quick smoke: short windows, figures are rough)" : "")}.");
        sb.AppendLine();
        sb.AppendLine("| Scenario | offers/s accepted | jobs/s delivered | accept p50 / p95 / p99 ms | queued->finished p50 / p95 / p99 ms | PG commits/job | CPU ms/job core + worker | allocated KB/job core + worker |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var p in r.Phases)
            sb.AppendLine($"| {p.Name} | {p.OffersPerSecond} | {p.DeliveredJobsPerSecond} | {p.AcceptMs.P50} / {p.AcceptMs.P95} / {p.AcceptMs.P99} | " +
                          $"{p.QueuedToFinishedMs.P50} / {p.QueuedToFinishedMs.P95} / {p.QueuedToFinishedMs.P99} | {p.CommitsPerJob} | {p.CoreCpuMsPerJob} + {p.WorkerCpuMsPerJob} | " +
                          $"{p.CoreAllocatedKbPerJob?.ToString() ?? "n/a"} + {p.WorkerAllocatedKbPerJob?.ToString() ?? "n/a"} |");
        sb.AppendLine();
        if (r.Phases.Any(p => p.Waits is not null))
        {
            // Whether a slow window was PostgreSQL working, waiting (for WAL flushes, locks, the client), or the VM's host
            // taking the CPU: the CPU per job alone cannot tell them apart.
            sb.AppendLine("| Scenario | PostgreSQL's backends in a statement or a transaction during the window, average per sample | host steal, share of the machine's CPU time |");
            sb.AppendLine("| --- | --- | --- |");
            foreach (var p in r.Phases)
                if (p.Waits is { } waits) sb.AppendLine($"| {p.Name} | {waits.Backends()} | {waits.Steal} |");
            sb.AppendLine();
        }
        var best = r.Phases.Max(p => p.DeliveredJobsPerSecond);
        sb.AppendLine("| Measure | Value | Target | Met |");
        sb.AppendLine("| --- | --- | --- | --- |");
        sb.AppendLine($"| pgbench INSERT tps, 8 clients (this machine) | {r.PgBenchTps}{HostSteal.Note(r.PgBenchStealPercent)} | | |");
        sb.AppendLine($"| raw RabbitMQ publish+consume msg/s (this machine) | {r.RabbitMqRawPerSecond} | | |");
        foreach (var row in Comparison.PgBenchRatioRows(r)) sb.AppendLine(row);
        sb.AppendLine($"| best delivered jobs/s / raw RabbitMQ rate | {best / r.RabbitMqRawPerSecond:0.000} | | |");
        // The half-rate verdicts rest on the maximum-rate window too: it sets the half rate, and a starved one makes it lighter.
        sb.AppendLine($"| accept p99 at half rate (1 target) | {half.AcceptMs.P99} ms | <= 20 ms | {HostSteal.Verdict(half.AcceptMs.P99 <= 20, half.Waits?.StealPercent, max.Waits?.StealPercent)} |");
        sb.AppendLine($"| queued->finished p99 at half rate (1 target) | {half.QueuedToFinishedMs.P99} ms | <= 100 ms | {HostSteal.Verdict(half.QueuedToFinishedMs.P99 <= 100, half.Waits?.StealPercent, max.Waits?.StealPercent)} |");
        sb.AppendLine($"| PostgreSQL commits per delivered job (max rate, 1 target) | {max.CommitsPerJob} | <= 3 | {Met(max.CommitsPerJob <= 3)} |");
        var counted = new[] { (half, "half rate, 1 target"), (r.Phases.ElementAtOrDefault(3), "half rate, 10 targets") }.Where(c => c.Item1 is not null).ToList();
        foreach (var (phase, name) in counted) sb.AppendLine(Statements.Row(name, phase!.Statements));
        sb.AppendLine($"| core peak RSS | {r.CorePeakRssMb} MB | <= 250 MB | {Met(r.CorePeakRssMb <= 250)} |");
        sb.AppendLine($"| webhook worker peak RSS | {r.WorkerPeakRssMb} MB | | |");
        sb.AppendLine($"| email: NS / Apprise as shipped (throttled by design) | {r.EmailsPerSecond} / {r.AppriseEmailsPerSecond?.ToString() ?? "n/a"} emails/s = {(r.AppriseEmailsPerSecond is { } a ? $"{r.EmailsPerSecond / a:0}x" : "n/a")} | >= 10x | {(r.AppriseEmailsPerSecond is { } b ? HostSteal.Verdict(r.EmailsPerSecond / b >= 10, r.EmailStealPercent) : "n/a")} |");
        sb.AppendLine($"| email: NS / Apprise with its throttle off | {r.EmailsPerSecond} / {r.AppriseUnthrottledEmailsPerSecond?.ToString() ?? "n/a"} emails/s = {(r.AppriseUnthrottledEmailsPerSecond is { } c ? $"{r.EmailsPerSecond / c:0.0}x" : "n/a")} | >= 2x | {(r.AppriseUnthrottledEmailsPerSecond is { } d ? HostSteal.Verdict(r.EmailsPerSecond / d >= 2, r.EmailStealPercent) : "n/a")} |");
        if (r.Fairness is { } f)
            sb.AppendLine($"| fairness: B's queued->finished p50 / p99 while A floods {f.FloodJobs} jobs (A delivered at {f.FloodDeliveredJobsPerSecond} jobs/s; B {f.LightJobs} jobs, {f.LightFailedRequests} failed requests{(f.LightAcceptMs is { } accept ? $", B's accept p50 / p99 {accept.P50} / {accept.P99} ms" : "")}) | {f.LightQueuedToFinishedMs.P50} / {f.LightQueuedToFinishedMs.P99} ms | p99 < {f.BoundMs} ms | {Met(f.Met)} |");
        if (r.Callbacks is { } cb)
            sb.AppendLine($"| status callbacks: delivered jobs/s without / with one callback (1 target, 16 clients; core CPU ms/job; commits/job) | " +
                          $"{cb.Off.DeliveredJobsPerSecond} / {cb.On.DeliveredJobsPerSecond} jobs/s; {cb.Off.CoreCpuMsPerJob} / {cb.On.CoreCpuMsPerJob} ms; " +
                          $"{cb.Off.CommitsPerJob} / {cb.On.CommitsPerJob} | {cb.CallbacksReceived} of {cb.CallbacksExpected} callbacks, {cb.CallbacksPerSecond}/s | {Met(cb.CallbacksReceived >= cb.CallbacksExpected)} |");
        foreach (var (phase, name) in counted)
            if (Statements.BackgroundTable(name, phase!.Statements) is { Length: > 0 } table) sb.AppendLine().Append(table);
        if (r.Search is { } search) sb.Append(Search.Report(search));
        if (r.ScaleOut is { } scale) sb.Append(ScaleOut.Report(scale));
        if (r.Million is { } m) sb.Append(Million.Report(m));
        return sb.ToString();

        static string Met(bool ok) => ok ? "yes" : "**no**";
    }
}
