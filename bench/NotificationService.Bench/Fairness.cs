using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace NotificationService.Bench;

/// <summary>
/// Fair sharing of one adapter (issue 11, item 2): tenant A floods it with jobs (offers of 100 targets, 4 clients) while
/// tenant B sends one-target offers at 10/s on the same adapter, until A's flood is delivered. B's queued -> finished
/// latency (the Job projection's createdAt -> finishedAt) must stay under the bound at p99; A's delivered rate shows
/// what the flood still gets.
/// </summary>
public static class Fairness
{
    public const double BoundMs = 2000;

    public static async Task<FairnessResult> RunAsync(Stack stack, Receivers receivers, string postgres, bool quick)
    {
        var floodJobs = quick ? 2_000 : 20_000;
        Console.WriteLine($"-- fairness: tenant A floods {floodJobs} jobs, tenant B sends 10 offers/s on the same adapter");
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var adapter = await stack.CreateAdapterAsync($"bench-fair-{suffix}", "webhook",
            new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        var worker = await stack.StartWorkerAsync("Webhook", adapter.Key);
        var tenantA = (await stack.AdminAsync("/admin/services", new { name = $"bench-flood-{suffix}" })).GetProperty("apiKey").GetString()!;
        var tenantB = (await stack.AdminAsync("/admin/services", new { name = $"bench-light-{suffix}" })).GetProperty("apiKey").GetString()!;

        // Warm-up (another service, not counted): the worker takes jobs before the clock starts, so a slow start is not
        // mistaken for unfairness.
        var warmUp = new ConcurrentBag<Guid>();
        for (var i = 0; i < 20; i++) await PostAsync(stack.ServiceKey, 1, warmUp, i);
        var warmUntil = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!warmUp.All(receivers.Count.ContainsKey) && DateTime.UtcNow < warmUntil) await Task.Delay(50);

        var floodIds = new ConcurrentBag<Guid>();
        var lightIds = new ConcurrentBag<Guid>();
        var lightAcceptMs = new ConcurrentBag<double>();
        var lightFailed = 0;
        var started = Stopwatch.GetTimestamp();

        async Task<bool> PostAsync(string key, int targets, ConcurrentBag<Guid> into, int n, ConcurrentBag<double>? acceptMs = null)
        {
            var body = new { targets = Enumerable.Range(0, targets).Select(i => new { adapter = adapter.Name, @params = new { payload = new { n, i } } }).ToArray() };
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.CoreUrls[0], "/v1/offers")) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new("Bearer", key);
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                using var response = await stack.Http.SendAsync(request);
                if ((int)response.StatusCode != 202) return false;
                acceptMs?.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                foreach (var job in (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").EnumerateArray()) into.Add(job.GetProperty("id").GetGuid());
                return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
        }

        // A: the whole flood as fast as the core accepts it. An offer that fails is simply not part of the flood.
        var offers = floodJobs / 100;
        var next = 0;
        var flood = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) is var n && n <= offers) await PostAsync(tenantA, 100, floodIds, n);
        }));

        // B: 10 offers/s on a fixed schedule (open loop), until A's flood has been delivered (at least 5 s, at most 5 min).
        var lightPosts = new List<Task>();
        var giveUp = started + (long)(Stopwatch.Frequency * 300.0);
        for (var i = 0; ; i++)
        {
            var due = started + (long)(i / 10.0 * Stopwatch.Frequency);
            if (due >= giveUp) break;
            if (i >= 50 && flood.IsCompleted && floodIds.All(receivers.Count.ContainsKey)) break;
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            var n = i;
            lightPosts.Add(Task.Run(async () => { if (!await PostAsync(tenantB, 1, lightIds, n, lightAcceptMs)) Interlocked.Increment(ref lightFailed); }));
        }
        await flood;
        await Task.WhenAll(lightPosts);

        // Drain B's last jobs, then read both tenants' outcomes.
        var light = lightIds.ToArray();
        var drainUntil = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!light.All(receivers.Count.ContainsKey) && DateTime.UtcNow < drainUntil) await Task.Delay(50);
        var floodDelivered = floodIds.Where(receivers.FirstAt.ContainsKey).Select(j => receivers.FirstAt[j]).ToArray();
        var floodRate = floodDelivered.Length == 0 ? 0 : floodDelivered.Length / Math.Max(Stopwatch.GetElapsedTime(started, floodDelivered.Max()).TotalSeconds, 0.001);
        // A receiver has the request before its worker commits JobFinished: give the last commits a moment to land.
        var latencies = await Load.QueuedToFinishedAsync(postgres, light);
        for (var commitsUntil = DateTime.UtcNow + TimeSpan.FromSeconds(10); latencies.Length < light.Length && DateTime.UtcNow < commitsUntil;)
        {
            await Task.Delay(100);
            latencies = await Load.QueuedToFinishedAsync(postgres, light);
        }
        var missing = light.Length - latencies.Length; // a job of B that never finished misses the bound
        var percentiles = Percentiles.Of(latencies);
        await worker.KillAsync();

        var met = missing == 0 && lightFailed == 0 && percentiles.P99 < BoundMs;
        var result = new FairnessResult($"tenant A floods {floodJobs} jobs, tenant B 10 offers/s", floodIds.Count, Math.Round(floodRate, 1),
            light.Length, lightFailed, percentiles, BoundMs, met, Percentiles.Of(lightAcceptMs.ToArray()));
        Console.WriteLine($"   A: {floodIds.Count} jobs accepted, delivered at {result.FloodDeliveredJobsPerSecond} jobs/s; " +
                          $"B: {light.Length} jobs ({lightFailed} requests failed, {missing} not finished), queued->finished p50 {percentiles.P50} ms, " +
                          $"p99 {percentiles.P99} ms (bound < {BoundMs} ms: {(met ? "met" : "MISSED")}), accept p50 {result.LightAcceptMs!.P50} ms, p99 {result.LightAcceptMs.P99} ms");
        return result;
    }

    /// <summary>`./ns bench --fairness [--quick] [--fairness-off]`: only this phase; --fairness-off gives every job the same priority (FIFO), for the comparison.</summary>
    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick, bool off)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        if (off) stack.CoreSettings["Fairness__FreeJobs"] = int.MaxValue.ToString();
        await stack.StartCoreAsync();
        await stack.CreateServiceAsync();
        var result = await RunAsync(stack, receivers, postgres, quick);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return result.Met ? 0 : 1;
    }
}
