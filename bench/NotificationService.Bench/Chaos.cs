using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace NotificationService.Bench;

/// <summary>
/// `./ns chaos`: a steady workload through two core instances (Wolverine's balanced mode, one database and broker) and two
/// workers, during which a worker, a core, RabbitMQ and PostgreSQL are each killed with SIGKILL and restarted. Then every
/// accepted job must end, every finished job must have reached the receiver, and every extra delivery must be explained
/// by a possible-duplicate record in the job's stream. A status callback subscribed to every job event is registered too:
/// every such event of every accepted job must reach its receiver at least once (duplicates are counted by event id).
/// </summary>
public static class Chaos
{
    private sealed record Kill(string Target, double At, double BackAfter, double? FirstDeliveryAfter);

    /// <param name="onlyProcesses">kill only a worker and a core, leaving PostgreSQL and RabbitMQ alone (a machine others share)</param>
    public static async Task<int> RunAsync(string root, string postgres, string rabbitMq, bool quick, bool onlyProcesses = false)
    {
        var rate = quick ? 20.0 : 50.0;
        var calm = TimeSpan.FromSeconds(quick ? 3 : 8); // steady load between one recovery and the next kill
        Console.WriteLine($"== Chaos: offers at {rate}/s until a worker, a core{(onlyProcesses ? "" : ", RabbitMQ and PostgreSQL")} have each been SIGKILLed and restarted; two cores, two workers");

        await using var receivers = await Receivers.StartAsync();
        var corePorts = new[] { ServiceProcess.FreePort(), ServiceProcess.FreePort() };
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        stack.CoreSettings["Callbacks__AllowPrivateNetwork"] = "true"; // the receiver is on 127.0.0.1
        stack.CoreSettings["Callbacks__RetryDelaysSeconds"] = "1,2,5,10,20,30";
        foreach (var port in corePorts) await stack.StartCoreAsync(port: port);
        await stack.CreateServiceAsync();
        await stack.ServiceAsync("/v1/callbacks", new { url = receivers.CallbackUrl, events = CallbackEventTypes.Keys.ToArray() });
        var adapter = await stack.CreateAdapterAsync("chaos-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "chaos-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", adapter.Key, parallelism: 8);
        await stack.StartWorkerAsync("Webhook", adapter.Key, parallelism: 8);

        var accepted = new ConcurrentDictionary<Guid, byte>();
        var gaveUp = 0;
        var started = Stopwatch.GetTimestamp();
        double Now() => Stopwatch.GetElapsedTime(started).TotalSeconds;

        // The client side: each offer has its own Idempotency-Key and is retried on the other core until accepted.
        async Task SubmitAsync(int n)
        {
            var key = $"chaos-{n}";
            for (var attempt = 0; attempt < 120; attempt++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.CoreUrls[(n + attempt) % 2], "/v1/offers"))
                {
                    Content = JsonContent.Create(new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { n } } } } }),
                };
                request.Headers.Authorization = new("Bearer", stack.ServiceKey);
                request.Headers.Add("Idempotency-Key", key);
                try
                {
                    using var response = await stack.Http.SendAsync(request);
                    if ((int)response.StatusCode == 202)
                    {
                        foreach (var job in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").EnumerateArray())
                            accepted.TryAdd(job.GetProperty("id").GetGuid(), 0);
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
                await Task.Delay(500);
            }
            Interlocked.Increment(ref gaveUp);
        }

        var killsDone = new CancellationTokenSource();
        var offers = 0;
        var producer = Task.Run(async () =>
        {
            var inFlight = new List<Task>();
            for (var i = 0; !killsDone.IsCancellationRequested; i++)
            {
                var wait = TimeSpan.FromSeconds(i / rate - Now());
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                inFlight.Add(SubmitAsync(i));
                offers = i + 1;
            }
            await Task.WhenAll(inFlight);
        });

        var kills = new List<Kill>();
        async Task KillAtAsync(string target, Func<Task> kill, Func<Task> restart)
        {
            await Task.Delay(calm);
            var killedAt = Now();
            var killedTicks = Stopwatch.GetTimestamp();
            Console.WriteLine($"   {killedAt,5:0.0} s  SIGKILL {target}");
            await kill();
            await Task.Delay(TimeSpan.FromSeconds(2));
            await restart();
            var back = Now() - killedAt;
            var backTicks = Stopwatch.GetTimestamp();
            // Recovered when the system delivers again after the component is back (the load never stops meanwhile).
            await Eventually(() => receivers.FirstAt.Values.Any(t => t > backTicks), TimeSpan.FromSeconds(120));
            var firstDelivery = receivers.FirstAt.Values.Where(t => t > backTicks).DefaultIfEmpty().Min();
            var recovered = firstDelivery == 0 ? (double?)null : Math.Round(Stopwatch.GetElapsedTime(killedTicks, firstDelivery).TotalSeconds, 1);
            kills.Add(new Kill(target, Math.Round(killedAt, 1), Math.Round(back, 1), recovered));
            Console.WriteLine($"   {Now(),5:0.0} s  {target} back after {back:0.0} s, delivering again {recovered?.ToString() ?? "never (120 s)"} s after the kill");
        }

        var pgData = Environment.GetEnvironmentVariable("NS_PG_DATA_DIR")!;
        // A component that cannot be brought back is a failed run with a report, not a crash.
        try
        {
        var rabbitPidFile = Environment.GetEnvironmentVariable("NS_RABBIT_PID_FILE")!;
        await KillAtAsync("worker 1", () => stack.Workers[0].KillAsync(), () => stack.StartWorkerAsync("Webhook", adapter.Key, 8, replace: 0));
        await KillAtAsync("core 1", () => stack.Cores[0].KillAsync(), () => stack.StartCoreAsync(index: 0, port: corePorts[0]));
        if (!onlyProcesses)
        {
        await KillAtAsync("RabbitMQ", () => KillTreeAsync(int.Parse(File.ReadAllText(rabbitPidFile).Trim())), () => InfraUpAsync(root));
        await KillAtAsync("PostgreSQL", () => KillTreeAsync(int.Parse(File.ReadLines(Path.Combine(pgData, "postmaster.pid")).First())), () => InfraUpAsync(root));
        }
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine($"CHAOS FAILED: {e.Message}");
            await killsDone.CancelAsync();
            return 1;
        }
        await Task.Delay(calm);
        await killsDone.CancelAsync();
        await producer;
        Console.WriteLine($"   {Now(),5:0.0} s  workload submitted: {offers} offers, {accepted.Count} jobs accepted, {gaveUp} offers given up by the client");

        // Every accepted job must end.
        var ids = accepted.Keys.ToArray();
        var states = new Dictionary<Guid, (string State, int PossibleDuplicates)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(quick ? 3 : 6);
        while (DateTime.UtcNow < deadline)
        {
            states = await StatesAsync(postgres, ids);
            if (states.Count == ids.Length && states.Values.All(s => s.State is "Finished" or "Failed" or "Expired" or "Canceled")) break;
            await Task.Delay(1000);
        }
        var drained = Now();

        // Every subscribed event of every accepted job must reach the callback receiver at least once.
        var subscribed = await SubscribedEventsAsync(postgres, ids);
        var callbacksDeadline = DateTime.UtcNow + TimeSpan.FromMinutes(quick ? 2 : 4);
        while (DateTime.UtcNow < callbacksDeadline && subscribed.Any(e => !receivers.Callbacks.ContainsKey(e))) await Task.Delay(1000);
        var callbacksDrained = Now();
        var missingCallbacks = subscribed.Where(e => !receivers.Callbacks.ContainsKey(e)).ToList();
        var extraCallbacks = subscribed.Sum(e => Math.Max(0, receivers.Callbacks.GetValueOrDefault(e) - 1));

        var notEnded = ids.Where(id => !states.TryGetValue(id, out var s) || s.State is "Queued" or "Started" or "Scheduled").ToList();
        var finished = ids.Where(id => states.TryGetValue(id, out var s) && s.State == "Finished").ToList();
        var lost = finished.Where(id => !receivers.Count.ContainsKey(id)).ToList();
        var duplicated = ids.Where(id => receivers.Count.TryGetValue(id, out var c) && c > 1).ToList();
        var unexplained = duplicated.Where(id => states[id].PossibleDuplicates < receivers.Count[id] - 1).ToList();

        Console.WriteLine();
        Console.WriteLine("| SIGKILL | at s | restarted and ready after s | delivering again after s |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var k in kills) Console.WriteLine($"| {k.Target} | {k.At} | {k.BackAfter} | {k.FirstDeliveryAfter?.ToString() ?? "not within 120 s"} |");
        Console.WriteLine();
        Console.WriteLine($"| Check | Result |");
        Console.WriteLine($"| --- | --- |");
        Console.WriteLine($"| jobs accepted (202) | {ids.Length} |");
        Console.WriteLine($"| offers the client gave up on (never accepted) | {gaveUp} |");
        Console.WriteLine($"| accepted jobs not ended | {notEnded.Count} |");
        Console.WriteLine($"| ended: {string.Join(", ", states.Values.GroupBy(s => s.State).Select(g => $"{g.Key} {g.Count()}"))} | all within {drained:0} s |");
        Console.WriteLine($"| finished jobs that never reached the receiver (lost) | {lost.Count} |");
        Console.WriteLine($"| jobs delivered more than once | {duplicated.Count} ({duplicated.Sum(id => receivers.Count[id] - 1)} extra deliveries) |");
        Console.WriteLine($"| duplicates without a JobPossibleDuplicate record | {unexplained.Count} |");
        Console.WriteLine($"| job events subscribed to by the status callback | {subscribed.Count} |");
        Console.WriteLine($"| of those, never received by the callback receiver (lost) | {missingCallbacks.Count} (all others within {callbacksDrained:0} s) |");
        Console.WriteLine($"| callbacks received more than once (same event id) | {subscribed.Count(e => receivers.Callbacks.GetValueOrDefault(e) > 1)} ({extraCallbacks} extra) |");

        var ok = notEnded.Count == 0 && lost.Count == 0 && unexplained.Count == 0 && gaveUp == 0 && missingCallbacks.Count == 0;
        Console.WriteLine(ok ? "\nCHAOS PASSED: nothing accepted was lost, every duplicate is on record." : "\nCHAOS FAILED");
        foreach (var id in notEnded.Concat(lost).Concat(unexplained).Take(10)) Console.WriteLine($"   job {id}: {(states.TryGetValue(id, out var s) ? s.State : "no document")}, delivered {receivers.Count.GetValueOrDefault(id)}x");
        foreach (var id in missingCallbacks.Take(10)) Console.WriteLine($"   event {id}: no callback received");
        return ok ? 0 : 1;
    }

    /// <summary>The callback's event names by the stored event type (Marten's alias of the event record).</summary>
    private static readonly Dictionary<string, string> CallbackEventTypes = new()
    {
        ["scheduled"] = "job_scheduled", ["queued"] = "job_queued", ["started"] = "job_started", ["attemptFailed"] = "job_attempt_failed",
        ["finished"] = "job_finished", ["failed"] = "job_failed", ["expired"] = "job_expired", ["canceled"] = "job_canceled",
    };

    /// <summary>The ids of the accepted jobs' events of the types the callback subscribed to (all of them).</summary>
    private static async Task<List<Guid>> SubscribedEventsAsync(string postgres, Guid[] ids)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM ns.mt_events WHERE stream_id = ANY($1) AND type = ANY($2)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        command.Parameters.Add(new NpgsqlParameter { Value = CallbackEventTypes.Values.ToArray() });
        var events = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) events.Add(reader.GetGuid(0));
        return events;
    }

    private static async Task<Dictionary<Guid, (string, int)>> StatesAsync(string postgres, Guid[] ids)
    {
        var states = new Dictionary<Guid, (string, int)>();
        try
        {
            await using var connection = new NpgsqlConnection(postgres);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id, data->>'state', (data->>'possibleDuplicates')::int FROM ns.mt_doc_job WHERE id = ANY($1)", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = ids });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) states[reader.GetGuid(0)] = (reader.GetString(1), reader.GetInt32(2));
        }
        catch (NpgsqlException) { } // still recovering
        return states;
    }

    /// <summary>SIGKILL a process and every process below it: a crash, not a shutdown.</summary>
    private static async Task KillTreeAsync(int pid)
    {
        var children = ProcStat.AllPids().Where(p => ProcStat.Read(p)?.ParentPid == pid).ToList();
        foreach (var target in children.Prepend(pid))
            try { Process.GetProcessById(target).Kill(); } catch (Exception e) when (e is ArgumentException or InvalidOperationException) { } // already gone
        await Eventually(() => ProcStat.Read(pid) is null or { State: 'Z' }, TimeSpan.FromSeconds(10));
    }

    private static async Task InfraUpAsync(string root)
    {
        using var process = Process.Start(new ProcessStartInfo(Path.Combine(root, "ns"), ["infra", "up"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"./ns infra up failed: {await process.StandardError.ReadToEndAsync()}");
    }

    private static async Task Eventually(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition() && DateTime.UtcNow < deadline) await Task.Delay(100);
    }
}
