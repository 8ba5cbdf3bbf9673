using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Offers;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Admin;

/// <summary>
/// Live worker status (README "Live worker status") against the real stack: workers heartbeat every 0.5 s and the core
/// counts one live for 3 s (SystemFixture), samples queue depths every 0.5 s.
/// </summary>
public sealed class when_an_operator_watches_the_workers(SystemFixture system) : IntegrationContext(system)
{
    private const double LiveSeconds = 3; // SystemFixture's Workers:LiveSeconds

    private Task<RegisteredAdapter> NewAdapterAsync() => System.CreateEmailAdapterAsync($"live-{Guid.NewGuid():N}"[..20], System.Smtp.Port);

    private async Task<JsonElement> LiveAsync(Guid adapterId) =>
        (await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/adapters/{adapterId}", SystemFixture.AdminKey, expect: 200)).GetProperty("live");

    private Task<JsonElement> LiveUntilAsync(Guid adapterId, Func<JsonElement, bool> done, string what, double seconds = 30) =>
        Eventually.Until(() => LiveAsync(adapterId), done, TimeSpan.FromSeconds(seconds), what);

    private static string Status(JsonElement live) => live.GetProperty("status").GetString()!;
    private static int Workers(JsonElement live) => live.GetProperty("workers").GetArrayLength();

    private async Task<JsonElement> HealthAsync()
    {
        // Probes share a report for a second: this one must be of the state the test set up.
        System.Core.Services.GetRequiredService<HealthReports>().Forget();
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Get, "/health", null);
        Assert.Equal(200, status); // Degraded is still 200: the core serves
        return body;
    }

    private Task<OfferAccepted> OfferAsync(RegisteredAdapter adapter, int jobs = 1) => System.CreateOfferAsync(System.Tenant, new
    {
        targets = Enumerable.Range(0, jobs).Select(i => ClientApi.EmailTarget(adapter.Name, $"live{i}@example.test")).ToArray(),
    });

    [Fact]
    public async Task a_killed_worker_ages_out_to_no_live_worker_and_a_started_one_brings_the_adapter_back()
    {
        var adapter = await NewAdapterAsync();
        await using var process = await WorkerProcess.StartAsync("NotificationService.Adapters.Email", adapter.ApiKey, parallelism: 3);
        var live = await LiveUntilAsync(adapter.Id, l => Workers(l) == 1, "the worker process's first heartbeat");
        var worker = live.GetProperty("workers")[0];
        Assert.Equal(3, worker.GetProperty("parallelism").GetInt32());
        Assert.Equal(0, worker.GetProperty("inFlight").GetInt32());
        Assert.Equal(Environment.MachineName, worker.GetProperty("host").GetString());
        Assert.Contains($"-{process.Pid}-", worker.GetProperty("node").GetString());
        Assert.False(string.IsNullOrEmpty(worker.GetProperty("version").GetString()));
        Assert.True(worker.GetProperty("startedAt").GetDateTimeOffset() <= worker.GetProperty("lastSeen").GetDateTimeOffset());
        Assert.Equal("ok", Status(live));

        await process.KillAsync(); // SIGKILL: no clean stop, its row stays and must age out
        var killed = Stopwatch.StartNew();
        var offer = await OfferAsync(adapter);
        live = await LiveAsync(adapter.Id);
        Assert.True(killed.Elapsed.TotalSeconds >= LiveSeconds || Workers(live) == 1, "a killed worker is listed until its last heartbeat is older than the bound");

        live = await LiveUntilAsync(adapter.Id, l => Status(l) == "no live worker", "no live worker", seconds: LiveSeconds + 15);
        Assert.InRange(killed.Elapsed.TotalSeconds, LiveSeconds - 0.6, LiveSeconds + 6); // the bound (its last beat was up to 0.5 s before the kill)
        Assert.Equal(0, Workers(live));
        Assert.True(live.GetProperty("oldestWaitingSeconds").GetDouble() > LiveSeconds);
        var health = await HealthAsync();
        Assert.Equal("Degraded", health.GetProperty("status").GetString());
        Assert.Equal("Degraded", health.GetProperty("checks").GetProperty("workers").GetProperty("status").GetString());
        Assert.Contains(adapter.Name, health.GetProperty("checks").GetProperty("workers").GetProperty("description").GetString());

        var started = await System.StartEmailWorkerAsync(adapter.ApiKey);
        await LiveUntilAsync(adapter.Id, l => Status(l) == "ok" && Workers(l) == 1, "ok with the new worker");
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State);
        Assert.Equal("Healthy", (await HealthAsync()).GetProperty("status").GetString());

        // A clean stop removes the worker's row at once, not after the bound.
        await System.StopWorkerAsync(started);
        Assert.Equal(0, Workers(await LiveAsync(adapter.Id)));
    }

    [Fact]
    public async Task the_heartbeat_carries_parallelism_and_the_sends_in_flight()
    {
        var adapter = await NewAdapterAsync();
        var gate = new GatedChannel();
        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey, gate, new Dictionary<string, string?> { ["Adapter:Parallelism"] = "2" });
        try
        {
            var offer = await OfferAsync(adapter);
            await Eventually.Until(() => gate.Started.Count == 1, what: "the send to start");
            var live = await LiveUntilAsync(adapter.Id, l => Workers(l) == 1 && l.GetProperty("workers")[0].GetProperty("inFlight").GetInt32() == 1,
                "a heartbeat with the send in flight");
            Assert.Equal(2, live.GetProperty("workers")[0].GetProperty("parallelism").GetInt32());

            gate.Release();
            Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State);
            await LiveUntilAsync(adapter.Id, l => l.GetProperty("workers")[0].GetProperty("inFlight").GetInt32() == 0, "a heartbeat with nothing in flight");
        }
        finally { await System.StopWorkerAsync(worker); }
    }

    [Fact]
    public async Task waiting_jobs_show_as_queue_depth_and_the_oldest_ones_age_in_the_adapter_and_the_list()
    {
        var adapter = await NewAdapterAsync(); // no worker: its jobs wait
        var offer = await OfferAsync(adapter, jobs: 3);
        var created = (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).CreatedAt;

        var live = await LiveUntilAsync(adapter.Id, l => l.GetProperty("queueDepth").ValueKind == JsonValueKind.Number && l.GetProperty("queueDepth").GetInt64() == 3,
            "the sampled depth of the three waiting jobs");
        AssertSameMicrosecond(created, live.GetProperty("oldestWaitingSince").GetDateTimeOffset());
        Assert.InRange(live.GetProperty("oldestWaitingSeconds").GetDouble(), 0, 30);
        Assert.True(live.GetProperty("queueDepthAt").GetDateTimeOffset() > created.AddSeconds(-1));

        var listed = (await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/adapters", SystemFixture.AdminKey, expect: 200))
            .EnumerateArray().Single(a => a.GetProperty("id").GetGuid() == adapter.Id).GetProperty("live");
        Assert.Equal(3, listed.GetProperty("queueDepth").GetInt64());
        AssertSameMicrosecond(created, listed.GetProperty("oldestWaitingSince").GetDateTimeOffset());
        // The shared email worker is live and has nothing waiting.
        var email = (await LiveAsync(System.Email.Id));
        Assert.Equal("ok", Status(email));
        Assert.True(Workers(email) >= 1);
        Assert.Equal(JsonValueKind.Null, email.GetProperty("oldestWaitingSince").ValueKind);
    }

    /// <summary>PostgreSQL keeps microseconds; .NET's ticks are a tenth of one.</summary>
    private static void AssertSameMicrosecond(DateTimeOffset expected, DateTimeOffset actual) =>
        Assert.True((actual - expected).Duration() < TimeSpan.FromMicroseconds(1), $"{actual:O} is not {expected:O}");

    [Fact]
    public async Task a_blocked_adapter_is_blocked_and_does_not_degrade_health()
    {
        var adapter = await NewAdapterAsync();
        await OfferAsync(adapter); // waits: no worker
        await System.SendAsync<JsonElement>(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/block", SystemFixture.AdminKey, expect: 200);

        Assert.Equal("blocked", Status(await LiveAsync(adapter.Id)));
        await Task.Delay(TimeSpan.FromSeconds(LiveSeconds + 0.5)); // past the bound: were it active, it would be "no live worker"
        var live = await LiveAsync(adapter.Id);
        Assert.Equal("blocked", Status(live));
        Assert.True(live.GetProperty("oldestWaitingSeconds").GetDouble() > LiveSeconds);
        Assert.Equal("Healthy", (await HealthAsync()).GetProperty("status").GetString());
    }

    // Review: the rule was written twice (the health check's SQL and AdapterLiveStatus.Decide); /health now takes Decide's
    // answer. Whatever the adapter's shape, /health names exactly those of this test's adapters the list shows as "no live
    // worker". Only its own: other tests leave worker-less adapters behind, and /health names at most 20, in name order,
    // so these names start with "0" to come first.
    [Fact]
    public async Task health_names_exactly_the_adapters_the_admin_api_shows_with_no_live_worker()
    {
        Task<RegisteredAdapter> NewAsync() => System.CreateEmailAdapterAsync($"0health-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var (stranded, blocked, fresh, idle) = (await NewAsync(), await NewAsync(), await NewAsync(), await NewAsync());
        await OfferAsync(stranded);
        await OfferAsync(blocked);
        await System.SendAsync<JsonElement>(HttpMethod.Post, $"/admin/adapters/{blocked.Id}/block", SystemFixture.AdminKey, expect: 200);
        await LiveUntilAsync(stranded.Id, l => Status(l) == "no live worker", "the first job waiting longer than the bound", seconds: LiveSeconds + 15);
        await OfferAsync(fresh); // waits, but not yet for longer than the bound

        var health = await HealthAsync();
        var list = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/adapters", SystemFixture.AdminKey, expect: 200);
        var statuses = list.EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!, a => Status(a.GetProperty("live")));
        RegisteredAdapter[] mine = [stranded, blocked, fresh, idle];
        Assert.Equal(["no live worker", "blocked", "ok", "ok"], mine.Select(a => statuses[a.Name]));
        Assert.Equal("Degraded", health.GetProperty("status").GetString());
        var description = health.GetProperty("checks").GetProperty("workers").GetProperty("description").GetString() ?? "";
        const string Prefix = "no live worker for adapters with waiting jobs: ";
        Assert.StartsWith(Prefix, description);
        var named = description[Prefix.Length..].Split(", ").ToHashSet();
        Assert.Equal([stranded.Name], mine.Select(a => a.Name).Where(named.Contains));
    }

    [Fact]
    public async Task a_queue_that_rises_at_each_sample_while_its_worker_is_stuck_is_a_growing_backlog()
    {
        var adapter = await NewAdapterAsync();
        var gate = new GatedChannel(); // the worker takes its first jobs and never finishes them
        var worker = await System.StartEmailWorkerAsync(adapter.ApiKey, gate, new Dictionary<string, string?> { ["Adapter:Parallelism"] = "1" });
        try
        {
            await LiveUntilAsync(adapter.Id, l => Workers(l) == 1, "the worker's first heartbeat");
            using var stop = new CancellationTokenSource();
            // Two offers a sample (0.5 s): the ready count rises at every sample.
            var flood = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) { await OfferAsync(adapter); await Task.Delay(250); }
            });
            try
            {
                var growing = await LiveUntilAsync(adapter.Id, l => Status(l) == "backlog growing", "backlog growing", seconds: 20);
                Assert.Equal(1, Workers(growing));
            }
            finally { stop.Cancel(); await flood; }

            gate.Release(1000);
            await LiveUntilAsync(adapter.Id, l => Status(l) == "ok" && l.GetProperty("queueDepth").GetInt64() == 0, "ok once the queue drains");
        }
        finally { await System.StopWorkerAsync(worker); }
    }
}
