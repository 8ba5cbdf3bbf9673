using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace NotificationService.Bench;

/// <summary>
/// Cost as the data grows (issue 14, item 3): the database gets a million finished jobs as the system would have left them
/// (offers, Job documents, event streams, the daemon's progress past them), then the one-target phase runs again at the
/// same maximum and half rates as on the empty database, then the read paths over the seeded data, then the sizes.
/// </summary>
public static class Million
{
    private const string Prefix = "million";
    private const int Tenants = 5; // the bench's own service (the load's tenant) and four more
    private const int JobsPerOffer = 2;
    private const double SpanSeconds = 30 * 24 * 3600; // the seeded offers are spread over the last 30 days

    private const int SettleSeconds = 30;

    private static readonly string[] Tables = ["ns.mt_doc_job", "ns.mt_doc_offer", "ns.offer_metadata", "ns.mt_events", "ns.mt_streams"];

    /// <summary>
    /// `./ns bench --million [--quick]`: the empty-database one-target phase, then this phase, on one stack. With
    /// <paramref name="seed"/> false, `--one-target [--quick]`: the phases issue 14's latency targets are judged on, alone
    /// (the warm-up, the one-target pair, the pair again at the same half rate; two to three minutes where the complete run
    /// takes seventeen), with each phase's CPU per job and its queued -> finished split.
    /// </summary>
    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick, bool seed = true)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq);
        var webhook = await stack.CreateAdapterAsync("bench-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        var load = new Load(stack, receivers, postgres);
        var window = TimeSpan.FromSeconds(quick ? 4 : 20);
        await WarmUpAsync(load, webhook.Name, window);
        var (max, half) = await OneTargetAsync(load, webhook.Name, window, "", null);
        // Each side twice: two runs of the same phase on this machine have differed by a quarter, so one pair against one
        // pair cannot tell the data's growth from the moment. `--million --quick` keeps one pair; `--one-target` is the two.
        var secondPair = !quick || !seed;
        var again = secondPair ? await OneTargetAsync(load, webhook.Name, window, ", again", HalfRate(max)) : default;
        if (!seed)
        {
            foreach (var phase in new[] { max, half, again.Max, again.Half })
                Console.WriteLine($"   {phase.Name}: CPU ms/job core {phase.CoreCpuMsPerJob} + worker {phase.WorkerCpuMsPerJob}, " +
                                  $"queued->finished p50 / p95 / p99 {phase.QueuedToFinishedMs.P50} / {phase.QueuedToFinishedMs.P95} / {phase.QueuedToFinishedMs.P99} ms " +
                                  $"(queued->started {Text(phase.QueuedToStartedMs)}, started->finished {Text(phase.StartedToFinishedMs)})");
            return 0;
        }
        var result = await RunAsync(stack, receivers, load, (webhook.Id, webhook.Name), postgres, quick, window, max, half);
        Console.WriteLine(Report(result with { EmptyMaxAgain = again.Max, EmptyHalfAgain = again.Half }));
        return 0;
        static string Text(Percentiles? p) => p is { } v ? $"{v.P50} / {v.P95} / {v.P99}" : "n/a";
    }

    private static object Payload(int i) => new { payload = new { i } };

    /// <summary>
    /// The maximum-rate load for a whole window before each measured pair, unmeasured. Both pairs follow a fresh core (the
    /// empty one a fresh stack), and with a 5 s warm-up of 8 clients the empty pair ran while the JIT, the pools and
    /// PostgreSQL's caches were still settling: the million-job pair then beat it by a third in two runs, which says
    /// nothing about the data's growth (bench/README.md, "Time-ordered ids").
    /// </summary>
    public static Task WarmUpAsync(Load load, string adapter, TimeSpan window) =>
        load.RunAsync("warm-up", adapter, Payload, 1, window, 32);

    /// <summary>The one-target phase as Benchmark runs it: the maximum rate, then half the sustained rate (or <paramref name="halfRate"/>).</summary>
    private static async Task<(PhaseResult Max, PhaseResult Half)> OneTargetAsync(Load load, string adapter, TimeSpan window, string suffix, double? halfRate)
    {
        async Task<PhaseResult> Phase(string name, int clients, double? rate)
        {
            Console.WriteLine($"-- {name}{suffix}");
            var r = await load.RunAsync(name + suffix, adapter, Payload, 1, window, clients, rate);
            Console.WriteLine($"   accepted {r.JobsAcceptedPerSecond} jobs/s ({r.OffersPerSecond} offers/s), delivered {r.DeliveredJobsPerSecond} jobs/s, " +
                              $"accept p50 {r.AcceptMs.P50} / p99 {r.AcceptMs.P99} ms, queued->finished p99 {r.QueuedToFinishedMs.P99} ms, {r.CommitsPerJob} commits/job, " +
                              $"WAL {r.WalKbPerJob} kB / {r.WalFullPageImagesPerJob} full-page images / {r.BlocksReadPerJob} blocks read per job");
            return r;
        }
        var max = await Phase("1 target per offer, maximum rate (32 clients)", 32, null);
        var rate = halfRate ?? Math.Min(max.OffersPerSecond, max.DeliveredJobsPerSecond) / 2;
        return (max, await Phase($"1 target per offer, half the sustained rate ({rate:0} offers/s)", 0, rate));
    }

    /// <summary>The empty run's half rate, so both half-rate windows offer the same load.</summary>
    private static double HalfRate(PhaseResult emptyMax) => Math.Min(emptyMax.OffersPerSecond, emptyMax.DeliveredJobsPerSecond) / 2;

    public static async Task<MillionResult> RunAsync(
        Stack stack, Receivers receivers, Load load, (Guid Id, string Name) webhook, string postgres, bool quick, TimeSpan window,
        PhaseResult emptyMax, PhaseResult emptyHalf)
    {
        var phaseStarted = Stopwatch.GetTimestamp();
        var jobs = quick ? 50_000 : 1_000_000;
        var repeats = quick ? 20 : 200;
        Console.WriteLine($"-- cost as the data grows: {jobs} finished jobs seeded, then the one-target phase again, reads and sizes");

        // Several tenants and adapters: the load's own service and webhook adapter, four more services, two more adapters.
        var tenants = new List<Guid> { stack.ServiceId };
        for (var i = 1; i < Tenants; i++)
            tenants.Add((await stack.AdminAsync("/admin/services", new { name = $"{Prefix}-{i}-{Guid.NewGuid():N}"[..30] })).GetProperty("id").GetGuid());
        var adapters = new List<(Guid Id, string Name)> { webhook };
        foreach (var name in new[] { $"{Prefix}-b", $"{Prefix}-c" })
        {
            var a = await stack.CreateAdapterAsync(name, "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
            adapters.Add((a.Id, a.Name));
        }

        // The callbacks subscription must have read every event so far: its progress is then moved past the seed, as a
        // system that had delivered these jobs would have left it. The core is stopped meanwhile, because the daemon
        // stores its progress only where the stored value is the one it last wrote.
        var head = await WaitForDaemonAsync(postgres, TimeSpan.FromMinutes(3));
        await stack.Cores[0].StopAsync();
        // The earlier phases' and the search phase's deleted rows would otherwise leave free space for the seed to fill
        // and make the "before" sizes meaningless.
        await SqlAsync(postgres, string.Join(";", Tables.Select(t => $"VACUUM FULL {t}")));
        var before = await SizesAsync(postgres);

        var seedStarted = Stopwatch.GetTimestamp();
        var progressMoved = await SeedAsync(postgres, jobs, head, tenants, adapters);
        var seedSeconds = Math.Round(Stopwatch.GetElapsedTime(seedStarted).TotalSeconds, 1);
        // Autovacuum would have been through finished jobs long ago: the visibility map and statistics a table at rest has.
        var vacuumStarted = Stopwatch.GetTimestamp();
        await SqlAsync(postgres, string.Join(";", Tables.Select(t => $"VACUUM (ANALYZE) {t}")));
        var vacuumSeconds = Math.Round(Stopwatch.GetElapsedTime(vacuumStarted).TotalSeconds, 1);
        // The seed and the vacuum leave gigabytes of dirty pages that a system which wrote these jobs over 30 days flushed
        // long ago: without a checkpoint here, their flush would fall into the measured windows.
        var checkpointStarted = Stopwatch.GetTimestamp();
        await SqlAsync(postgres, "CHECKPOINT");
        var checkpointSeconds = Math.Round(Stopwatch.GetElapsedTime(checkpointStarted).TotalSeconds, 1);
        var sizes = Join(before, await SizesAsync(postgres));
        Console.WriteLine($"   seeded {jobs} jobs ({jobs / JobsPerOffer} offers, {jobs * 3} events) in {seedSeconds} s, then VACUUM (ANALYZE) in {vacuumSeconds} s, CHECKPOINT in {checkpointSeconds} s; " +
                          $"daemon progress moved past the seed: {progressMoved}");

        var core = await stack.StartCoreAsync(index: 0);
        await Task.Delay(TimeSpan.FromSeconds(5));
        var daemon = await DaemonStateAsync(postgres);
        var warnings = core.Log.Split('\n').Where(l => l.Contains("warn", StringComparison.OrdinalIgnoreCase) || l.Contains("fail", StringComparison.OrdinalIgnoreCase)
                                                       || l.Contains("error", StringComparison.OrdinalIgnoreCase) || l.Contains("exception", StringComparison.OrdinalIgnoreCase)).ToList();
        var afterSeed = $"5 s after the core's restart: {daemon}; core log {core.Log.Split('\n').Length - 1} lines, {warnings.Count} with warn/fail/error/exception";
        Console.WriteLine($"   {afterSeed}");
        foreach (var line in warnings.Take(10)) Console.WriteLine($"     | {line.TrimEnd()}");

        await WarmUpAsync(load, webhook.Name, window);
        var (max, half) = await OneTargetAsync(load, webhook.Name, window, $", {jobs} finished jobs", HalfRate(emptyMax));
        var again = quick ? default : await OneTargetAsync(load, webhook.Name, window, $", {jobs} finished jobs, again", HalfRate(emptyMax));
        // Whether the daemon kept up with the phases' own events after the seed (it trails only by what is in flight).
        Console.WriteLine($"   after the phases: {await DaemonStateAsync(postgres)}");

        var budget = TimeSpan.FromSeconds(quick ? 3 : 20);
        var reads = await ReadsAsync(stack, postgres, jobs, repeats, budget, tenants[0], adapters);
        // The same reads once what the phases left behind (the backlog's last commits, the checkpoint they caused, the
        // callbacks subscription catching up) is over: which of a slow tail is the data's size, and which is the moment.
        Console.WriteLine($"   the reads again, {SettleSeconds} s later:");
        await Task.Delay(TimeSpan.FromSeconds(SettleSeconds));
        var settled = await ReadsAsync(stack, postgres, jobs, repeats, budget, tenants[0], adapters);
        reads = reads.Zip(settled, (now, later) => now with { Settled = later.Ms, SettledBusy = later.Busy, SettledStealPercent = later.StealPercent }).ToList();
        Console.WriteLine($"   this phase took {Stopwatch.GetElapsedTime(phaseStarted).TotalSeconds:0} s");
        return new MillionResult(jobs, jobs / JobsPerOffer, Tenants, seedSeconds, vacuumSeconds, afterSeed, emptyMax, emptyHalf, max, half, reads, sizes, checkpointSeconds,
            MaxAgain: again.Max, HalfAgain: again.Half);
    }

    /// <summary>Waits until both subscriptions (callbacks, fallback chains) have read every event; the highest seq_id then.</summary>
    private static async Task<long> WaitForDaemonAsync(string postgres, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await using var connection = new NpgsqlConnection(postgres);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("""
                SELECT (SELECT coalesce(max(seq_id), 0) FROM ns.mt_events),
                       (SELECT coalesce(min(last_seq_id), 0) FROM ns.mt_event_progression WHERE name IN ('callbacks:All', 'fallbacks:All'))
                """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            var (head, read) = (reader.GetInt64(0), reader.GetInt64(1));
            if (read >= head) return head;
            if (DateTime.UtcNow > deadline)
            {
                Console.WriteLine($"   !! the subscriptions are at {read} of {head} events: their progress is left as it is, so they read the seed too");
                return head;
            }
            await Task.Delay(500);
        }
    }

    private static async Task<string> DaemonStateAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT max(seq_id) FROM ns.mt_events),
                   (SELECT last_seq_id FROM ns.mt_event_progression WHERE name = 'HighWaterMark'),
                   (SELECT last_seq_id FROM ns.mt_event_progression WHERE name = 'callbacks:All')
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        string At(int i) => reader.IsDBNull(i) ? "none" : reader.GetInt64(i).ToString();
        return $"last event {At(0)}, high-water mark {At(1)}, callbacks subscription at {At(2)}";
    }

    /// <summary>
    /// The seed, one statement per table in one transaction: offers (2 jobs each, metadata customer 1 of 10,000 and kind 1
    /// of 3) round-robin over the tenants and 30 days, oldest first; each job's stream (version 3), its JobQueued,
    /// JobStarted and JobFinished with the JSON, type names and .NET types Marten writes, on seq_ids reserved from
    /// mt_events_sequence; the Job document as the inline projection leaves it (Finished, version 3; the job's and the
    /// offer's JSON without null members, as Job and Offer are stored). Adapters: 60 %, 30 %,
    /// 10 % by blocks of ten jobs, so every tenant has jobs on each (by j % 10 a tenant had only two). The daemon's progress (high-water mark and the callbacks subscription) moves past the seed where it had read
    /// everything before it. Returns how many of those progress rows moved (three: the fallback chains' subscription too).
    /// </summary>
    private static async Task<int> SeedAsync(string postgres, int jobs, long head, List<Guid> tenants, List<(Guid Id, string Name)> adapters)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        long first;
        await using (var reserve = new NpgsqlCommand("SELECT nextval('ns.mt_events_sequence')", connection, tx))
            first = (long)(await reserve.ExecuteScalarAsync())!;
        var last = first + 3L * jobs - 1;
        await using var command = new NpgsqlCommand(SeedSql, connection, tx) { CommandTimeout = 3600 };
        command.Parameters.AddWithValue("n", jobs);
        command.Parameters.AddWithValue("per_offer", JobsPerOffer);
        command.Parameters.AddWithValue("tenants", tenants.ToArray());
        command.Parameters.AddWithValue("adapter_ids", adapters.Select(a => a.Id).ToArray());
        command.Parameters.AddWithValue("adapter_names", adapters.Select(a => a.Name).ToArray());
        command.Parameters.AddWithValue("now", DateTimeOffset.UtcNow);
        command.Parameters.AddWithValue("span", SpanSeconds);
        command.Parameters.AddWithValue("first", first);
        command.Parameters.AddWithValue("last", last);
        command.Parameters.AddWithValue("head", head);
        await using var reader = await command.ExecuteReaderAsync();
        var moved = 0;
        // The last result is the count of moved progress rows (setval's comes before it).
        do { while (await reader.ReadAsync()) moved = Convert.ToInt32(reader.GetValue(0)); } while (await reader.NextResultAsync());
        await reader.DisposeAsync();
        await tx.CommitAsync();
        return moved;
    }

    /// <summary>A timestamptz as System.Text.Json writes a DateTimeOffset in UTC (microseconds, "+00:00").</summary>
    private static string Iso(string column) => $"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')";

    /// <summary>Per job j (1 = oldest): its offer, tenant, adapter and times; shared by the statements below.</summary>
    private const string JobRows = """
        (SELECT j, md5('million-job-' || j)::uuid AS id, md5('million-offer-' || o)::uuid AS offer_id,
                @tenants[o % cardinality(@tenants) + 1] AS service_id,
                CASE WHEN (j / 10) % 10 < 6 THEN 1 WHEN (j / 10) % 10 < 9 THEN 2 ELSE 3 END AS a,
                created, created + make_interval(secs => (2 + j % 7) / 1000.0) AS started,
                created + make_interval(secs => (2 + j % 7 + 3 + j % 40) / 1000.0) AS finished
         FROM generate_series(1, @n) j,
              LATERAL (SELECT (j + @per_offer - 1) / @per_offer AS o) oo,
              LATERAL (SELECT @now - make_interval(secs => ((@n / @per_offer) - o + 1) * @span / (@n / @per_offer)) AS created) c) s
        """;

    private static readonly string SeedSql = $$"""
        INSERT INTO ns.mt_doc_offer (id, data, mt_last_modified, mt_dotnet_type, service_id, created_at)
        SELECT md5('million-offer-' || o)::uuid,
          jsonb_build_object('id', md5('million-offer-' || o)::uuid,
            'jobs', (SELECT jsonb_agg(jsonb_build_object('jobId', md5('million-job-' || j)::uuid, 'adapter', @adapter_names[a], 'adapterId', @adapter_ids[a]) ORDER BY j)
                     FROM generate_series((o - 1) * @per_offer + 1, o * @per_offer) j,
                          LATERAL (SELECT CASE WHEN (j / 10) % 10 < 6 THEN 1 WHEN (j / 10) % 10 < 9 THEN 2 ELSE 3 END AS a) aa),
            'metadata', jsonb_build_object('customer', 'c' || (o % 10000), 'kind', (ARRAY['welcome', 'receipt', 'reset'])[o % 3 + 1]),
            'createdAt', {{Iso("created")}}, 'serviceId', @tenants[o % cardinality(@tenants) + 1]),
          created, 'NotificationService.Core.Offers.Offer', @tenants[o % cardinality(@tenants) + 1], created
        FROM generate_series(1, @n / @per_offer) o,
             LATERAL (SELECT @now - make_interval(secs => ((@n / @per_offer) - o + 1) * @span / (@n / @per_offer)) AS created) c;

        INSERT INTO ns.mt_streams (id, type, version, timestamp, created, tenant_id, compacted_version, is_archived)
        SELECT id, 'job', 3, finished, created, '*DEFAULT*', 0, false FROM {{JobRows}};

        INSERT INTO ns.mt_events (seq_id, id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type, is_archived)
        SELECT @first + (j - 1) * 3 + k - 1, gen_random_uuid(), id, k,
          CASE k
            WHEN 1 THEN jsonb_build_object('jobId', id, 'params', jsonb_build_object('payload', jsonb_build_object('order', j)), 'offerId', offer_id,
              'expireAt', null, 'queuedAt', {{Iso("created")}}, 'adapterId', @adapter_ids[a], 'serviceId', service_id, 'adapterName', @adapter_names[a])
            WHEN 2 THEN jsonb_build_object('jobId', id, 'worker', 'seed-worker-' || (j % 4), 'attempt', 1, 'startedAt', {{Iso("started")}})
            ELSE jsonb_build_object('jobId', id, 'attempt', 1, 'finishedAt', {{Iso("finished")}}, 'providerMessageId', null)
          END,
          (ARRAY['job_queued', 'job_started', 'job_finished'])[k],
          CASE k WHEN 1 THEN created WHEN 2 THEN started ELSE finished END,
          '*DEFAULT*',
          (ARRAY['NotificationService.Storage.Jobs.JobQueued, NotificationService.Storage', 'NotificationService.Storage.Jobs.JobStarted, NotificationService.Storage',
                 'NotificationService.Storage.Jobs.JobFinished, NotificationService.Storage'])[k],
          false
        FROM {{JobRows}}, generate_series(1, 3) k;

        INSERT INTO ns.mt_doc_job (id, data, mt_last_modified, mt_dotnet_type, mt_version, created_at, finished_at, service_id, state, adapter_name)
        SELECT id,
          jsonb_build_object('id', id, 'state', 'Finished', 'params', jsonb_build_object('payload', jsonb_build_object('order', j)),
            'offerId', offer_id, 'retries', 0, 'version', 3, 'attempts', 1, 'adapterId', @adapter_ids[a],
            'createdAt', {{Iso("created")}}, 'serviceId', service_id, 'startedAt', {{Iso("started")}},
            'finishedAt', {{Iso("finished")}}, 'generation', 0, 'adapterName', @adapter_names[a],
            'possiblyDelivered', false, 'possibleDuplicates', 0, 'cancellationRequested', false),
          finished, 'NotificationService.Storage.Jobs.Job', 3, created, finished, service_id, 'Finished', @adapter_names[a]
        FROM {{JobRows}};

        SELECT setval('ns.mt_events_sequence', @last);
        WITH moved AS (
          UPDATE ns.mt_event_progression SET last_seq_id = @last, last_updated = now()
          WHERE name IN ('HighWaterMark', 'callbacks:All', 'fallbacks:All') AND last_seq_id >= @head RETURNING 1)
        SELECT count(*)::int FROM moved;
        """;

    private static async Task<List<(string Table, string Relation, long Bytes)>> SizesAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        // Each index of the four tables the seed grows; the Wolverine tables as a whole (they hold messages in flight, not history).
        await using var command = new NpgsqlCommand("""
            SELECT c.oid::regclass::text, x.rel, x.bytes FROM pg_class c
            CROSS JOIN LATERAL (
              SELECT 'table' AS rel, pg_relation_size(c.oid) AS bytes, 0 AS ord WHERE c.oid = ANY($1::regclass[])
              UNION ALL SELECT 'toast + maps', pg_table_size(c.oid) - pg_relation_size(c.oid), 1 WHERE c.oid = ANY($1::regclass[])
              UNION ALL SELECT 'all indexes', pg_indexes_size(c.oid), 2 WHERE c.oid = ANY($1::regclass[])
              UNION ALL SELECT ic.relname, pg_relation_size(ic.oid), 3
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND c.oid = ANY($1::regclass[])
              UNION ALL SELECT 'total (table and indexes)', pg_total_relation_size(c.oid), 4 WHERE c.relnamespace = 'wolverine'::regnamespace) x
            WHERE c.relkind = 'r' AND (c.oid = ANY($1::regclass[]) OR c.relnamespace = 'wolverine'::regnamespace)
            ORDER BY c.relnamespace <> 'ns'::regnamespace, c.oid::regclass::text, x.ord, x.rel
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = Tables });
        var rows = new List<(string, string, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        return rows;
    }

    private static List<RelationSize> Join(List<(string Table, string Relation, long Bytes)> before, List<(string Table, string Relation, long Bytes)> after) =>
        after.Select(a => new RelationSize(a.Table, a.Relation,
            before.FirstOrDefault(b => b.Table == a.Table && b.Relation == a.Relation).Bytes, a.Bytes)).ToList();

    /// <summary>
    /// Sequential GETs over HTTP against the seeded data, once to warm up and then <paramref name="repeats"/> times, or as
    /// many as fit in <paramref name="budget"/> (at least 10): a query that takes seconds must not hold the bench for hours.
    /// </summary>
    private static async Task<List<ReadTiming>> ReadsAsync(
        Stack stack, string postgres, int jobs, int repeats, TimeSpan budget, Guid tenant, List<(Guid Id, string Name)> adapters)
    {
        async Task<JsonElement> GetAsync(string path, string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(stack.CoreUrls[0], path));
            request.Headers.Authorization = new("Bearer", key);
            using var response = await stack.Http.SendAsync(request);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }

        // Random seeded jobs of the load's tenant (offer o belongs to tenant o % 5; tenant 0 is the bench's service).
        var ids = new List<Guid>();
        await using (var connection = new NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"""
                SELECT md5('million-job-' || j)::uuid FROM generate_series(1, $1) j
                WHERE ((j + {JobsPerOffer} - 1) / {JobsPerOffer}) % {Tenants} = 0 ORDER BY random() LIMIT $2
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = jobs });
            command.Parameters.Add(new NpgsqlParameter { Value = repeats + 1 });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) ids.Add(reader.GetGuid(0));
        }
        var daysBack = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-10).ToString("O"));
        var hourBefore = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-10).AddHours(-1).ToString("O"));
        var key = stack.ServiceKey;
        (string Name, Func<int, string> Path, string Key)[] queries =
        [
            ("GET /v1/jobs/{id}, a random seeded job", i => $"/v1/jobs/{ids[i % ids.Count]}", key),
            ("GET /v1/jobs, first page", _ => "/v1/jobs", key),
            ("GET /v1/offers, first page", _ => "/v1/offers", key),
            ("GET /v1/offers?metadata.customer= (1 in 10,000 offers)", _ => "/v1/offers?metadata.customer=c40", key),
            ("GET /v1/offers?metadata.kind= (1 in 3 offers)", _ => "/v1/offers?metadata.kind=receipt", key),
            ("/admin/jobs, first page", _ => "/admin/jobs", Stack.AdminKey),
            ("/admin/jobs?service=", _ => $"/admin/jobs?service={tenant}", Stack.AdminKey),
            ("/admin/jobs?state=Finished", _ => "/admin/jobs?state=Finished", Stack.AdminKey),
            ("/admin/jobs?state=Failed (none)", _ => "/admin/jobs?state=Failed", Stack.AdminKey),
            ("/admin/jobs?adapter= (10 % of the jobs)", _ => $"/admin/jobs?adapter={adapters[2].Name}", Stack.AdminKey),
            ("/admin/jobs?from=&to=, one hour 10 days back", _ => $"/admin/jobs?from={hourBefore}&to={daysBack}", Stack.AdminKey),
            ("/admin/jobs?service=&state=Finished&adapter=", _ => $"/admin/jobs?service={tenant}&state=Finished&adapter={adapters[1].Name}", Stack.AdminKey),
            ("/admin/jobs?page=20", _ => "/admin/jobs?page=20", Stack.AdminKey),
        ];
        var timings = new List<ReadTiming>();
        foreach (var (name, path, k) in queries)
        {
            var body = await GetAsync(path(repeats), k); // warm
            var items = body.TryGetProperty("items", out var list) ? list.GetArrayLength() : 1;
            var ms = new List<double>();
            var cpuBefore = MachineCpu.ByProcess(stack);
            var hostBefore = HostSteal.Reading();
            var pausedBefore = GC.GetTotalPauseDuration();
            var began = Stopwatch.GetTimestamp();
            for (var i = 0; i < repeats && (i < 10 || Stopwatch.GetElapsedTime(began) < budget); i++)
            {
                var started = Stopwatch.GetTimestamp();
                await GetAsync(path(i), k);
                ms.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            // /proc/stat counts in ticks of 10 ms: under a second of requests (--quick's twenty), one tick is several
            // percent, too coarse to void a verdict on.
            var steal = Stopwatch.GetElapsedTime(began) >= TimeSpan.FromSeconds(1) ? HostSteal.Since(hostBefore) : null;
            var busy = Busy(MachineCpu.Between(cpuBefore, MachineCpu.ByProcess(stack)), Stopwatch.GetElapsedTime(began), GC.GetTotalPauseDuration() - pausedBefore)
                       + (steal is { } st ? $"; host steal {st:0.0} %" : "");
            var timing = new ReadTiming(name, items, ms.Count, Percentiles.Of(ms), Busy: busy, StealPercent: steal);
            Console.WriteLine($"   {name}: {items} items, {ms.Count} requests, p50 {timing.Ms.P50} ms, p99 {timing.Ms.P99} ms; {busy}");
            timings.Add(timing);
        }
        return timings;
    }

    /// <summary>
    /// What ran while a query's requests did, as a share of one core by process group (the bench is the one asking), and
    /// the bench's own garbage-collection pauses, which a request in flight waits out too.
    /// </summary>
    private static string Busy(Dictionary<string, double> cpuMs, TimeSpan wall, TimeSpan benchPaused) =>
        string.Join(", ", cpuMs.Where(kv => kv.Value > 0).OrderByDescending(kv => kv.Value)
            .Select(kv => $"{kv.Key} {kv.Value / wall.TotalMilliseconds * 100:0} %"))
        + $"; bench GC pauses {benchPaused.TotalMilliseconds:0} ms";

    private static async Task SqlAsync(string postgres, string sql)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        foreach (var statement in sql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // VACUUM runs outside a transaction block: one command per statement.
            await using var command = new NpgsqlCommand(statement, connection) { CommandTimeout = 3600 };
            await command.ExecuteNonQueryAsync();
        }
    }

    public static string Report(MillionResult r)
    {
        var sb = new StringBuilder();
        string Change(double empty, double now) => empty > 0 ? $"{(now - empty) / empty * 100:+0.0;-0.0} %" : "n/a";
        sb.AppendLine();
        sb.AppendLine($"Cost as the data grows: {r.Jobs} finished jobs ({r.Offers} offers, {r.Jobs * 3} events, {r.Tenants} tenants, 3 adapters) seeded in " +
                      $"{r.SeedSeconds} s, then VACUUM (ANALYZE) {r.VacuumSeconds} s" + (r.CheckpointSeconds is { } c ? $", CHECKPOINT {c} s" : "") + $"; {r.DaemonAfterSeed}.");
        sb.AppendLine();
        // Where a side ran twice, the comparison is of the means, and each cell lists the runs.
        static (double Mean, string Text) Runs(double first, double? second) => second is { } s
            ? (Math.Round((first + s) / 2, 1), $"{first}, {s} (mean {Math.Round((first + s) / 2, 1)})")
            : (first, $"{first}");
        var emptyRate = Runs(r.EmptyMax.DeliveredJobsPerSecond, r.EmptyMaxAgain?.DeliveredJobsPerSecond);
        var rate = Runs(r.Max.DeliveredJobsPerSecond, r.MaxAgain?.DeliveredJobsPerSecond);
        var emptyP99 = Runs(r.EmptyHalf.AcceptMs.P99, r.EmptyHalfAgain?.AcceptMs.P99);
        var p99 = Runs(r.Half.AcceptMs.P99, r.HalfAgain?.AcceptMs.P99);
        sb.AppendLine($"| 1 target per offer | empty database | {r.Jobs} finished jobs | change | within 10 % |");
        sb.AppendLine("| --- | --- | --- | --- | --- |");
        // Each comparison is void where the host starved any window it rests on (HostSteal); the half rates rest on the
        // maximum-rate windows that set them as well.
        var maxSteal = new[] { r.EmptyMax, r.EmptyMaxAgain, r.Max, r.MaxAgain }.Select(p => p?.Waits?.StealPercent).ToList();
        var halfSteal = new[] { r.EmptyHalf, r.EmptyHalfAgain, r.Half, r.HalfAgain }.Select(p => p?.Waits?.StealPercent).Concat(maxSteal).ToList();
        sb.AppendLine($"| maximum rate: delivered jobs/s | {emptyRate.Text} | {rate.Text} | {Change(emptyRate.Mean, rate.Mean)} | {HostSteal.Verdict(rate.Mean >= 0.9 * emptyRate.Mean, maxSteal)} |");
        sb.AppendLine($"| maximum rate: accepted offers/s; accept p99 ms | {r.EmptyMax.OffersPerSecond}; {r.EmptyMax.AcceptMs.P99} | {r.Max.OffersPerSecond}; {r.Max.AcceptMs.P99} | | |");
        sb.AppendLine($"| half rate: offers/s | {r.EmptyHalf.OffersPerSecond} | {r.Half.OffersPerSecond} | | |");
        sb.AppendLine($"| half rate: accept p50 / p95 / p99 ms | {r.EmptyHalf.AcceptMs.P50} / {r.EmptyHalf.AcceptMs.P95} / {r.EmptyHalf.AcceptMs.P99} | " +
                      $"{r.Half.AcceptMs.P50} / {r.Half.AcceptMs.P95} / {r.Half.AcceptMs.P99} | {Change(r.EmptyHalf.AcceptMs.P99, r.Half.AcceptMs.P99)} (p99) | " +
                      (r.HalfAgain is null && r.EmptyHalfAgain is null ? $"{HostSteal.Verdict(r.Half.AcceptMs.P99 <= 1.1 * r.EmptyHalf.AcceptMs.P99, halfSteal)} |" : "see below |"));
        if (r.HalfAgain is { } h2)
        {
            var e2 = r.EmptyHalfAgain is { } e ? $"{e.AcceptMs.P50} / {e.AcceptMs.P95} / {e.AcceptMs.P99}" : "-";
            sb.AppendLine($"| half rate, again: accept p50 / p95 / p99 ms | {e2} | " +
                          $"{h2.AcceptMs.P50} / {h2.AcceptMs.P95} / {h2.AcceptMs.P99} | | |");
            sb.AppendLine($"| half rate: accept p99 ms, both runs | {emptyP99.Text} | {p99.Text} | {Change(emptyP99.Mean, p99.Mean)} | {HostSteal.Verdict(p99.Mean <= 1.1 * emptyP99.Mean, halfSteal)} |");
        }
        sb.AppendLine($"| half rate: queued->finished p99 ms | {r.EmptyHalf.QueuedToFinishedMs.P99} | {r.Half.QueuedToFinishedMs.P99} | | |");
        sb.AppendLine($"| commits/job (max; half) | {r.EmptyMax.CommitsPerJob}; {r.EmptyHalf.CommitsPerJob} | {r.Max.CommitsPerJob}; {r.Half.CommitsPerJob} | | |");
        sb.AppendLine($"| WAL kB; full-page images; blocks read outside shared buffers, per job (max rate) | {r.EmptyMax.WalKbPerJob}; {r.EmptyMax.WalFullPageImagesPerJob}; {r.EmptyMax.BlocksReadPerJob} | " +
                      $"{r.Max.WalKbPerJob}; {r.Max.WalFullPageImagesPerJob}; {r.Max.BlocksReadPerJob} | | |");
        sb.AppendLine($"| CPU ms/job core + worker (max rate) | {r.EmptyMax.CoreCpuMsPerJob} + {r.EmptyMax.WorkerCpuMsPerJob} | {r.Max.CoreCpuMsPerJob} + {r.Max.WorkerCpuMsPerJob} | | |");
        sb.AppendLine();
        sb.AppendLine($"Reads over the seeded data, sequential GETs over HTTP (target p99 < 20 ms), right after the phases and again {SettleSeconds} s later:");
        sb.AppendLine();
        sb.AppendLine($"| Query | items | requests | p50 ms | p95 ms | p99 ms | < 20 ms | {SettleSeconds} s later: p50 / p95 / p99 ms | < 20 ms |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var t in r.Reads)
            sb.AppendLine($"| {t.Query} | {t.Items} | {t.Samples} | {t.Ms.P50} | {t.Ms.P95} | {t.Ms.P99} | {HostSteal.Verdict(t.Ms.P99 < 20, t.StealPercent)} | " +
                          (t.Settled is { } later ? $"{later.P50} / {later.P95} / {later.P99} | {HostSteal.Verdict(later.P99 < 20, t.SettledStealPercent)} |" : "| |"));
        sb.AppendLine();
        sb.AppendLine("CPU while each query's requests ran (share of one core; 2 cores = 200 %), right after the phases, then later:");
        sb.AppendLine();
        foreach (var t in r.Reads) sb.AppendLine($"- {t.Query}: {t.Busy}" + (t.SettledBusy is { } b ? $"; later: {b}" : ""));
        sb.AppendLine();
        sb.AppendLine($"Sizes (MB) before and after the seed, and the growth per million jobs (after - before, scaled from {r.Jobs} jobs):");
        sb.AppendLine();
        sb.AppendLine("| Table | Relation | before | after | per million jobs |");
        sb.AppendLine("| --- | --- | --- | --- | --- |");
        static string Mb(double bytes) => $"{bytes / (1024 * 1024):0.0}";
        foreach (var s in r.Sizes)
            // Wolverine's tables hold messages in flight, which the seed does not add to: their size is shown, not scaled.
            sb.AppendLine($"| {s.Table} | {s.Relation} | {Mb(s.Before)} | {Mb(s.After)} | {(s.Table.StartsWith("ns.") ? Mb((s.After - s.Before) * 1_000_000.0 / r.Jobs) : "-")} |");
        return sb.ToString();
    }
}
