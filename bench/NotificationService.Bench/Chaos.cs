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
/// The core killed is the one running the callbacks subscription (the HotCold daemon), while the callback receiver is
/// slow so that DeliverCallback messages are in flight and queued in that core's durable inbox when it dies (asserted).
/// </summary>
public static class Chaos
{
    private sealed record Kill(string Target, double At, double BackAfter, double? FirstDeliveryAfter);

    /// <param name="onlyProcesses">kill only a worker and a core, leaving PostgreSQL and RabbitMQ alone (a machine others share)</param>
    /// <param name="brokerDownSeconds">how long RabbitMQ stays dead before it is restarted: an outage of minutes overflows the
    /// outbox senders' in-memory retry queues many times over, and what they release must be resumed from the database</param>
    public static async Task<int> RunAsync(string root, string postgres, string rabbitMq, bool quick, bool onlyProcesses = false, int brokerDownSeconds = 2)
    {
        var rate = quick ? 20.0 : 50.0;
        var calm = TimeSpan.FromSeconds(quick ? 3 : 8); // steady load between one recovery and the next kill
        Console.WriteLine($"== Chaos: offers at {rate}/s until a worker, a core{(onlyProcesses ? "" : ", RabbitMQ and PostgreSQL")} have each been SIGKILLed and restarted; two cores, two workers");

        await using var receivers = await Receivers.StartAsync();
        var corePorts = new[] { ServiceProcess.FreePort(), ServiceProcess.FreePort() };
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        stack.CoreSettings["Callbacks__AllowPrivateNetwork"] = "true"; // the receiver is on 127.0.0.1
        stack.CoreSettings["Callbacks__RetryDelaysSeconds"] = "1,2,5,10,20,30";
        // Each core's Wolverine node number, which owns the envelopes it stored in its durable inbox.
        var coreNodes = new List<int>();
        foreach (var port in corePorts)
        {
            await stack.StartCoreAsync(port: port);
            coreNodes.Add(await NewNodeAsync(postgres, coreNodes.DefaultIfEmpty(0).Max()));
        }
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
        async Task KillAtAsync(string target, Func<Task> kill, Func<Task> restart, Func<Task<string>>? prepare = null, int downSeconds = 2)
        {
            await Task.Delay(calm);
            if (prepare is not null) target = await prepare();
            var killedAt = Now();
            var killedTicks = Stopwatch.GetTimestamp();
            Console.WriteLine($"   {killedAt,5:0.0} s  SIGKILL {target}");
            await kill();
            await Task.Delay(TimeSpan.FromSeconds(downSeconds));
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

        var victim = -1;
        CoreKill? coreKill = null;
        Task<Takeover>? takeover = null;
        var pgData = Environment.GetEnvironmentVariable("NS_PG_DATA_DIR")!;
        // A component that cannot be brought back is a failed run with a report, not a crash.
        try
        {
        var rabbitPidFile = Environment.GetEnvironmentVariable("NS_RABBIT_PID_FILE")!;
        await KillAtAsync("worker 1", () => stack.Workers[0].KillAsync(), () => stack.StartWorkerAsync("Webhook", adapter.Key, 8, replace: 0));
        // The core to kill is the one running the callbacks subscription (HotCold: one core holds the daemon's lock), at a
        // moment when DeliverCallback messages wait in its durable inbox: what must survive is exactly that core's work. The
        // callback receiver answers slowly for a moment before the kill, so deliveries are in flight and queued when it comes.
        var coreName = "";
        await KillAtAsync("core", async () =>
        {
            await stack.Cores[victim].KillAsync();
            var killedTicks = Stopwatch.GetTimestamp();
            receivers.CallbackDelay = TimeSpan.Zero;
            // The dead process can change nothing now: what its node still owns is exactly what it left behind.
            var pending = await PendingCallbacksAsync(postgres, coreNodes[victim]);
            var undelivered = (await SubscribedEventsAsync(postgres, accepted.Keys.ToArray())).Count(e => !receivers.Callbacks.ContainsKey(e));
            coreKill = new CoreKill(victim, coreNodes[victim], pending, undelivered);
            Console.WriteLine($"   {Now(),5:0.0} s  at the kill: {pending.Incoming} DeliverCallback envelopes owned by core {victim + 1} (node {coreNodes[victim]}), " +
                $"{pending.Scheduled} scheduled retries (any node's), {pending.Parked} parked (waiting for a delivery slot or a retry); {undelivered} subscribed events not yet received");
            // Work outstanding at the kill, at whatever stage: events the daemon has not dispatched yet, deliveries in the dead
            // core's inbox, or parked ones (over a service's in-flight cap a delivery is parked within 50 ms, so at a given
            // moment the slow receiver's backlog may be all parked). All of it must arrive.
            if (pending.Incoming + pending.Parked + undelivered == 0)
                throw new InvalidOperationException($"no callback was outstanding at the kill of core {victim + 1}, the daemon's: the kill proved nothing");
            takeover = WatchTakeoverAsync(postgres, stack, coreName, victim, coreNodes[victim], killedTicks);
        }, async () =>
        {
            await stack.StartCoreAsync(index: victim, port: corePorts[victim]);
            coreNodes[victim] = await NewNodeAsync(postgres, coreNodes.Max());
        }, prepare: async () =>
        {
            // The lock's connection is 'idle' but for its pings: a few reads before concluding that no core (or two) holds it.
            var holders = await DaemonHoldersAsync(postgres);
            for (var i = 0; i < 20 && holders.Count != 1; i++) { await Task.Delay(250); holders = await DaemonHoldersAsync(postgres); }
            Console.WriteLine($"   {Now(),5:0.0} s  advisory locks held by the cores: {await DescribeLocksAsync(postgres, stack)} (cores 1, 2: nodes {string.Join(", ", coreNodes)})");
            victim = holders.Count == 1 ? stack.CoreDbNames.IndexOf(holders[0]) : -1;
            if (victim < 0) throw new InvalidOperationException($"cannot tell which core runs the callbacks daemon (lock holders: {string.Join(", ", holders)})");
            coreName = holders[0];
            receivers.CallbackDelay = TimeSpan.FromMilliseconds(300);
            await Task.Delay(TimeSpan.FromSeconds(2));
            return $"core {victim + 1} (holds the callbacks daemon)";
        });
        if (!onlyProcesses)
        {
        await KillAtAsync("RabbitMQ", () => KillTreeAsync(int.Parse(File.ReadAllText(rabbitPidFile).Trim())), () => InfraUpAsync(root), downSeconds: brokerDownSeconds);
        await KillAtAsync("PostgreSQL", () => KillTreeAsync(int.Parse(File.ReadLines(Path.Combine(pgData, "postmaster.pid")).First())), () => InfraUpAsync(root));
        }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            Console.WriteLine($"CHAOS FAILED: {e.Message}");
            await killsDone.CancelAsync();
            await ReportFailureAsync(root, postgres, stack);
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
        // Watched since the core's kill, alongside the rest of the run (it gives up 120 s after the kill).
        var took = takeover is null ? null : await takeover;
        if (took is not null)
            Console.WriteLine($"   {Now(),5:0.0} s  callbacks daemon taken over by {took.NewHolder ?? "nobody"} {took.DaemonAfter?.ToString("0.0") ?? "never (120 s)"} s after the core's kill; " +
                $"the dead core's DeliverCallback envelopes all picked up {took.InboxAfter?.ToString("0.0") ?? "never (120 s)"} s after it");
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

        if (coreKill is { } ck && took is { } t)
        {
            Console.WriteLine($"| core killed: the one running the callbacks daemon | core {ck.Core + 1} (Wolverine node {ck.Node}) |");
            Console.WriteLine($"| at the kill: DeliverCallback envelopes owned by that core / scheduled retries / parked | {ck.Pending.Incoming} / {ck.Pending.Scheduled} / {ck.Pending.Parked} |");
            Console.WriteLine($"| at the kill: subscribed events not yet received | {ck.Undelivered} |");
            Console.WriteLine($"| callbacks daemon taken over (by, s after the kill) | {t.NewHolder ?? "nobody"}, {t.DaemonAfter?.ToString("0.0") ?? "not within 120 s"} |");
            Console.WriteLine($"| the dead core's DeliverCallback envelopes all picked up by another node (s after the kill) | {t.InboxAfter?.ToString("0.0") ?? "not within 120 s"} |");
        }

        var ok = notEnded.Count == 0 && lost.Count == 0 && unexplained.Count == 0 && gaveUp == 0 && missingCallbacks.Count == 0;
        Console.WriteLine(ok ? "\nCHAOS PASSED: nothing accepted was lost, every duplicate is on record." : "\nCHAOS FAILED");
        foreach (var id in notEnded.Concat(lost).Concat(unexplained).Take(10)) Console.WriteLine($"   job {id}: {(states.TryGetValue(id, out var s) ? s.State : "no document")}, delivered {receivers.Count.GetValueOrDefault(id)}x");
        foreach (var id in missingCallbacks.Take(10)) Console.WriteLine($"   event {id}: no callback received");
        if (!ok) await ReportFailureAsync(root, postgres, stack);
        return ok ? 0 : 1;
    }

    /// <summary>What a failed run leaves to read: every process's log (the killed ones' too), the cores' outbox and agents.</summary>
    private static async Task ReportFailureAsync(string root, string postgres, Stack stack)
    {
        var folder = Directory.CreateDirectory(Path.Combine(root, ".local", "bench", $"chaos-{DateTime.UtcNow:yyyyMMdd-HHmmss}")).FullName;
        foreach (var (process, i) in stack.Started.Select((p, i) => (p, i)))
            await File.WriteAllTextAsync(Path.Combine(folder, $"{i + 1}-{process.Name}.log"), process.Log);
        Console.WriteLine($"   the processes' logs, in start order: {folder}");
        try
        {
            await using var connection = new NpgsqlConnection(postgres);
            await connection.OpenAsync();
            foreach (var (title, sql) in new[]
            {
                ("the cores' outbox (destination, owner node, envelopes)",
                    "SELECT destination || ', node ' || owner_id || ', ' || count(*) FROM wolverine.wolverine_outgoing_envelopes GROUP BY destination, owner_id ORDER BY 1"),
                ("the cores' agents (agent, node)",
                    "SELECT a.id || ', node ' || n.node_number FROM wolverine.wolverine_node_assignments a JOIN wolverine.wolverine_nodes n ON n.id = a.node_id ORDER BY 1"),
            })
            {
                Console.WriteLine($"   {title}:");
                await using var command = new NpgsqlCommand(sql, connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) Console.WriteLine($"      {reader.GetString(0)}");
            }
        }
        catch (NpgsqlException e) { Console.WriteLine($"   (PostgreSQL could not be read: {e.Message})"); }
    }

    private sealed record Pending(int Incoming, int Scheduled, int Parked);
    private sealed record CoreKill(int Core, int Node, Pending Pending, int Undelivered);
    private sealed record Takeover(string? NewHolder, double? DaemonAfter, double? InboxAfter);

    /// <summary>
    /// The cores (by application_name, see Stack.CoreDbNames) holding Marten's HotCold daemon lock: a session-level
    /// advisory lock (pg_try_advisory_lock) kept on a connection of its own for the whole leadership, the only lock a core
    /// holds for long. Its key is JasperFx's ProjectionLockIds.Compute("ns", callbacks:All, DaemonLockId 4444) = 632908666
    /// (checked by hand; the bench does not reference JasperFx). Wolverine's durability passes take transaction-scoped
    /// locks for a moment, and its leader is a row in wolverine_node_assignments (printed beside the locks).
    /// </summary>
    private static async Task<List<string>> DaemonHoldersAsync(string postgres)
    {
        var holders = new List<string>();
        try
        {
            await using var connection = new NpgsqlConnection(postgres);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                SELECT DISTINCT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'ns-core-%'
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND a.state = 'idle' AND a.query LIKE '%pg_try_advisory_lock(%'
                """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) holders.Add(reader.GetString(0));
        }
        catch (NpgsqlException) { }
        return holders;
    }

    /// <summary>Every advisory lock a core holds, for the record: core, key, connection state.</summary>
    private static async Task<string> DescribeLocksAsync(string postgres, Stack stack)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT a.application_name, (l.classid::bigint << 32) | l.objid::bigint, a.state || ' ' || left(a.query, 160) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'ns-core-%'
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY 1, 2
            """, connection);
        var locks = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) locks.Add($"core {stack.CoreDbNames.IndexOf(reader.GetString(0)) + 1} key {reader.GetInt64(1)} ({reader.GetString(2)})");
        await reader.DisposeAsync();
        await using var leader = new NpgsqlCommand("""
            SELECT n.node_number FROM wolverine.wolverine_node_assignments a JOIN wolverine.wolverine_nodes n ON n.id = a.node_id WHERE a.id = 'wolverine://leader/'
            """, connection);
        return $"{(locks.Count == 0 ? "none" : string.Join("; ", locks))}; Wolverine's leader: node {await leader.ExecuteScalarAsync() ?? "none"}";
    }

    /// <summary>DeliverCallback envelopes in Wolverine's durable inbox: waiting to be handled by the node <paramref name="owner"/>, and scheduled retries (owned by no node until due).</summary>
    private static async Task<Pending> PendingCallbacksAsync(string postgres, int owner)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT count(*) FILTER (WHERE status = 'Incoming' AND owner_id = $1), count(*) FILTER (WHERE status = 'Scheduled'),
                   (SELECT count(*) FROM ns.mt_doc_parkedcallback)
            FROM wolverine.wolverine_incoming_envelopes WHERE message_type LIKE '%DeliverCallback'
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = owner });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Pending((int)reader.GetInt64(0), (int)reader.GetInt64(1), (int)reader.GetInt64(2));
    }

    /// <summary>The Wolverine node number of a core just started: the first above <paramref name="above"/> (nodes are numbered in start order).</summary>
    private static async Task<int> NewNodeAsync(string postgres, int above)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            await using (var connection = new NpgsqlConnection(postgres))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT min(node_number) FROM wolverine.wolverine_nodes WHERE node_number > $1", connection);
                command.Parameters.Add(new NpgsqlParameter { Value = above });
                if (await command.ExecuteScalarAsync() is int node) return node;
            }
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException("a core started but registered no Wolverine node within 30 s");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// After the daemon's core is killed: when another core (the survivor, or the killed one restarted) holds the daemon
    /// lock, and when no DeliverCallback envelope is left owned by the dead node (another node recovered them).
    /// </summary>
    private static async Task<Takeover> WatchTakeoverAsync(string postgres, Stack stack, string killed, int victim, int deadNode, long killedTicks)
    {
        string? holder = null;
        double? daemonAfter = null, inboxAfter = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (DateTime.UtcNow < deadline && (daemonAfter is null || inboxAfter is null))
        {
            var elapsed = Stopwatch.GetElapsedTime(killedTicks).TotalSeconds;
            try
            {
                if (daemonAfter is null && (await DaemonHoldersAsync(postgres)).FirstOrDefault(h => h != killed) is { } now)
                {
                    var index = stack.CoreDbNames.IndexOf(now);
                    holder = index < 0 ? now : $"core {index + 1}{(index == victim ? " (restarted)" : "")}";
                    daemonAfter = Math.Round(elapsed, 1);
                }
                if (inboxAfter is null)
                {
                    if ((await PendingCallbacksAsync(postgres, deadNode)).Incoming == 0) inboxAfter = Math.Round(elapsed, 1);
                }
            }
            catch (NpgsqlException) { }
            await Task.Delay(250);
        }
        return new Takeover(holder, daemonAfter, inboxAfter);
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
