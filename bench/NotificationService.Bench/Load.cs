using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace NotificationService.Bench;

/// <summary>A bounded load generator: it targets the core on 127.0.0.1 only and stops by itself when its window ends.</summary>
public sealed class Load(Stack stack, Receivers receivers, string postgres)
{
    /// <param name="rate">offers per second; null = closed loop, each client posting as fast as it is answered</param>
    /// <param name="drain">wait until every accepted job reached the receiver (false when no worker is running)</param>
    /// <param name="target">the whole target for a sequence number, instead of <c>{adapter, params}</c> (e.g. a templated one)</param>
    /// <param name="countStatements">count the statements of the window and its drain per delivered job (null when pg_stat_statements is not loaded)</param>
    public async Task<PhaseResult> RunAsync(
        string name, string adapter, Func<int, object> @params, int targetsPerOffer, TimeSpan window, int clients, double? rate = null, bool drain = true,
        Func<int, object>? target = null, bool countStatements = false)
    {
        // A rate taken from a phase that delivered nothing (a stack that stopped answering) would end as a timer's
        // ArgumentOutOfRangeException deep in the schedule; say what happened instead.
        if (rate is { } given && !(given > 0))
            throw new InvalidOperationException($"{name}: no rate to offer ({given} offers/s): the phase it comes from accepted or delivered nothing.");
        var statements = countStatements && await Statements.AvailableAsync(postgres);
        if (statements)
        {
            // A quiet moment first: the previous phase drained when its receiver had every request, and its last
            // outcomes may still be committing; those would count as this phase's.
            await Task.Delay(TimeSpan.FromSeconds(1));
            await Statements.ResetAsync(postgres);
        }
        var acceptMs = new ConcurrentBag<double>();
        var jobs = new ConcurrentBag<Guid>();
        var failed = 0;
        var countersBefore = await Database.CountersAsync(postgres);
        var coreCpu = stack.Cores.Sum(c => c.CpuTime().TotalMilliseconds);
        var workerCpu = stack.Workers.Sum(w => w.CpuTime().TotalMilliseconds);
        var (coreAllocated, workerAllocated) = await AllocatedAsync(stack);
        await using var waits = PostgresWaits.Start(postgres);
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var sequence = 0;

        async Task PostOneAsync()
        {
            var n = Interlocked.Increment(ref sequence);
            // A whole target when given (a templated one, --templates), else the adapter with these params.
            var body = new { targets = Enumerable.Range(0, targetsPerOffer).Select(i => target?.Invoke(n * 100 + i) ?? new { adapter, @params = @params(n * 100 + i) }).ToArray() };
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.CoreUrls[n % stack.CoreUrls.Count], "/v1/offers")) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new("Bearer", stack.ServiceKey);
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                using var response = await stack.Http.SendAsync(request);
                var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if ((int)response.StatusCode != 202) { Interlocked.Increment(ref failed); return; }
                acceptMs.Add(ms);
                foreach (var job in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").EnumerateArray()) jobs.Add(job.GetProperty("id").GetGuid());
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { Interlocked.Increment(ref failed); }
        }

        if (rate is { } perSecond)
        {
            // Open loop at a fixed rate: latency is measured against the schedule, not hidden by waiting for answers.
            var inFlight = new List<Task>();
            for (var i = 0; ; i++)
            {
                var due = started + (long)(i / perSecond * Stopwatch.Frequency);
                if (due >= deadline) break;
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                inFlight.Add(PostOneAsync());
            }
            await Task.WhenAll(inFlight);
        }
        else
        {
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ => { while (Stopwatch.GetTimestamp() < deadline) await PostOneAsync(); }));
        }
        var acceptedFor = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var waitProfile = await waits.StopAsync(); // the window's, not its drain's

        // Drain: every accepted job must reach the receiver.
        var expected = jobs.ToArray();
        var drainDeadline = DateTime.UtcNow + (drain ? TimeSpan.FromMinutes(3) : TimeSpan.Zero);
        while (expected.Any(j => !receivers.Count.ContainsKey(j)) && DateTime.UtcNow < drainDeadline) await Task.Delay(50);
        var delivered = expected.Count(j => receivers.Count.ContainsKey(j));
        var lastDelivery = expected.Where(receivers.FirstAt.ContainsKey).Select(j => receivers.FirstAt[j]).DefaultIfEmpty(started).Max();
        var deliveredFor = Stopwatch.GetElapsedTime(started, lastDelivery).TotalSeconds;
        var counters = await Database.CountersAsync(postgres) - countersBefore;
        // Read once every job's outcome is committed (the receiver has a request before its outcome commits), and before
        // the latency query below, which is the bench's and not the jobs'.
        if (statements) await UntilTerminalAsync(postgres, expected, drain ? TimeSpan.FromSeconds(30) : TimeSpan.Zero);
        var statementCount = statements ? await Statements.PerJobAsync(postgres, delivered, expected.Length / targetsPerOffer) : null;
        // Read where the CPU is read (below): after the last outcomes committed, so that their allocations count here.
        var (coreAllocatedAfter, workerAllocatedAfter) = await AllocatedAsync(stack);
        var (queuedToFinished, queuedToStarted, startedToFinished) = await LatencySplitAsync(postgres, expected);
        var result = new PhaseResult(name, targetsPerOffer,
            Math.Round(acceptMs.Count / acceptedFor, 1), Math.Round(expected.Length / acceptedFor, 1), Math.Round(delivered / Math.Max(deliveredFor, 0.001), 1),
            expected.Length, failed, Percentiles.Of(acceptMs.ToArray()), Percentiles.Of(queuedToFinished),
            Math.Round((double)counters.Commits / Math.Max(delivered, 1), 2),
            Math.Round((stack.Cores.Sum(c => c.CpuTime().TotalMilliseconds) - coreCpu) / Math.Max(delivered, 1), 2),
            Math.Round((stack.Workers.Sum(w => w.CpuTime().TotalMilliseconds) - workerCpu) / Math.Max(delivered, 1), 2),
            statementCount,
            Math.Round(counters.WalBytes / 1024.0 / Math.Max(delivered, 1), 2), Math.Round((double)counters.WalFullPageImages / Math.Max(delivered, 1), 2),
            Math.Round((double)counters.BlocksRead / Math.Max(delivered, 1), 2),
            KbPerJob(coreAllocatedAfter - coreAllocated, delivered), KbPerJob(workerAllocatedAfter - workerAllocated, delivered),
            queuedToStarted.Length == 0 ? null : Percentiles.Of(queuedToStarted), startedToFinished.Length == 0 ? null : Percentiles.Of(startedToFinished),
            waitProfile);
        if (drain && delivered < expected.Length) Console.WriteLine($"  !! {expected.Length - delivered} of {expected.Length} jobs not delivered within the drain time");
        return result;
    }

    private static double? KbPerJob(double? bytes, int jobs) => bytes is { } b ? Math.Round(b / 1024 / Math.Max(jobs, 1), 1) : null;

    /// <summary>
    /// Bytes the cores and the workers have allocated on their managed heaps since they started, from their /metrics
    /// (the runtime's <c>dotnet.gc.heap.total_allocated</c>); null when a process does not answer. Unlike the CPU per job,
    /// which moves with the machine, what a job allocates is much the same from run to run, so a change to the per-job
    /// path shows in it.
    /// </summary>
    private static async Task<(double? Cores, double? Workers)> AllocatedAsync(Stack stack)
    {
        async Task<double?> SumAsync(IEnumerable<Uri> urls)
        {
            double total = 0;
            foreach (var url in urls)
            {
                try
                {
                    var text = await stack.Http.GetStringAsync(new Uri(url, "/metrics"));
                    // `name{labels} value` (a timestamp may follow the value).
                    var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("dotnet_gc_heap_total_allocated_bytes_total", StringComparison.Ordinal));
                    if (line is null) return null;
                    var afterName = line.Contains('}') ? line[(line.LastIndexOf('}') + 1)..] : line[line.IndexOf(' ')..];
                    var value = afterName.Trim().Split(' ')[0];
                    total += double.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or FormatException) { return null; }
            }
            return total;
        }
        return (await SumAsync(stack.CoreUrls.ToList()), await SumAsync(stack.WorkerUrls.ToList()));
    }

    /// <summary>Waits (at most <paramref name="bound"/>) until every job is terminal in the Job projection.</summary>
    private static async Task UntilTerminalAsync(string postgres, Guid[] jobs, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        // The alias marks the query as the bench's, which the statement count leaves out (Statements.Split).
        await using var command = new NpgsqlCommand($"""
            SELECT count(*) AS {Statements.BenchMark} FROM ns.mt_doc_job
            WHERE id = ANY($1) AND data->>'state' NOT IN ('Finished', 'Failed', 'Expired', 'Canceled')
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = jobs });
        while ((long)(await command.ExecuteScalarAsync())! > 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
    }

    /// <summary>
    /// From the job's creation (queued) to its recorded finish, read from the Job projection, and that time in two: to the
    /// worker's first start (the accept's commit, the outbox's publish, the broker, the worker's dispatch) and from it (the
    /// start's commit, the send, the outcome, and any retries with their backoff), for the jobs that started.
    /// </summary>
    private static async Task<(double[] QueuedToFinished, double[] QueuedToStarted, double[] StartedToFinished)> LatencySplitAsync(string postgres, Guid[] jobs)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT extract(epoch FROM (finished - created)) * 1000, extract(epoch FROM (started - created)) * 1000,
                   extract(epoch FROM (finished - started)) * 1000
            FROM (SELECT (data->>'createdAt')::timestamptz AS created, (data->>'startedAt')::timestamptz AS started,
                         (data->>'finishedAt')::timestamptz AS finished
                  FROM ns.mt_doc_job WHERE id = ANY($1) AND data->>'finishedAt' IS NOT NULL) AS j
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = jobs });
        var (total, toStart, fromStart) = (new List<double>(), new List<double>(), new List<double>());
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            total.Add(Convert.ToDouble(reader.GetValue(0)));
            if (await reader.IsDBNullAsync(1)) continue; // ended without a start (expired, canceled)
            toStart.Add(Convert.ToDouble(reader.GetValue(1)));
            fromStart.Add(Convert.ToDouble(reader.GetValue(2)));
        }
        return (total.ToArray(), toStart.ToArray(), fromStart.ToArray());
    }

    public static async Task<double[]> QueuedToFinishedAsync(string postgres, Guid[] jobs) =>
        (await LatencySplitAsync(postgres, jobs)).QueuedToFinished;
}
