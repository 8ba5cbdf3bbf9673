using System.Net.Http.Json;
using System.Text.Json;
using RabbitMQ.Client;

namespace NotificationService.Bench;

/// <summary>The system under test: the core and adapter workers as processes from their Release builds, on loopback.</summary>
public sealed class Stack : IAsyncDisposable
{
    public const string AdminKey = "nsadmin_bench";
    private readonly List<ServiceProcess> _workers = [];
    private readonly string _root, _postgres, _rabbitMq;

    public List<ServiceProcess> Cores { get; } = [];
    /// <summary>Every core and worker started, the ones since killed and replaced included (their logs tell most).</summary>
    public List<ServiceProcess> Started { get; } = [];
    public IReadOnlyList<ServiceProcess> Workers => _workers;
    public List<Uri> CoreUrls { get; } = [];
    /// <summary>Each core's PostgreSQL application_name (unique per start), so pg_stat_activity tells whose a backend is.</summary>
    public List<string> CoreDbNames { get; } = [];
    private int _coreStarts;
    public HttpClient Http { get; } = new(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };
    public string ServiceKey { get; private set; } = "";
    public Guid ServiceId { get; private set; }
    /// <summary>Settings every core started from now on gets (environment variables, e.g. <c>Fairness__FreeJobs</c>).</summary>
    public Dictionary<string, string> CoreSettings { get; } = [];
    /// <summary>Settings every worker started from now on gets (environment variables, e.g. <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>).</summary>
    public Dictionary<string, string> WorkerSettings { get; } = [];
    /// <summary>Where each of <see cref="Workers"/> serves /health and /metrics.</summary>
    public List<Uri> WorkerUrls { get; } = [];

    private Stack(string root, string postgres, string rabbitMq) => (_root, _postgres, _rabbitMq) = (root, postgres, rabbitMq);

    /// <summary>The workers' RabbitMQ user (./ns passes ns-worker), the core's when unset.</summary>
    private string WorkerRabbitMq => System.Environment.GetEnvironmentVariable("NS_WORKER_RABBITMQ") is { Length: > 0 } worker ? worker : _rabbitMq;

    public static async Task<Stack> StartAsync(string root, string postgres, string rabbitMq, int cores = 1)
    {
        var stack = new Stack(root, postgres, rabbitMq);
        for (var i = 0; i < cores; i++) await stack.StartCoreAsync();
        if (cores > 0) await stack.CreateServiceAsync();
        return stack;
    }

    public async Task CreateServiceAsync()
    {
        var service = await AdminAsync("/admin/services", new { name = "bench" });
        (ServiceId, ServiceKey) = (service.GetProperty("id").GetGuid(), service.GetProperty("apiKey").GetString()!);
    }

    /// <summary>The core's and the workers' own database roles (`./ns bench` sets both), else the bench's connection.</summary>
    private string PostgresOf(string role) =>
        System.Environment.GetEnvironmentVariable($"NS_{role}_POSTGRES") is { Length: > 0 } value ? value : _postgres;

    private Dictionary<string, string> Environment(string role, params (string, string)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            // Each process gets a bounded pool, so cores and workers together stay under PostgreSQL's max_connections
            // even when requests pile up during an outage.
            ["ConnectionStrings__Postgres"] = PostgresOf(role) + ";Maximum Pool Size=40", ["ConnectionStrings__RabbitMq"] = _rabbitMq,
            // NS_BENCH_LOG_LEVEL=Information shows what a process that fails to start was doing (its log is printed).
            ["Logging__LogLevel__Default"] = System.Environment.GetEnvironmentVariable("NS_BENCH_LOG_LEVEL") is { Length: > 0 } level ? level : "Warning",
        };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    public async Task<ServiceProcess> StartCoreAsync(int index = -1, int? port = null)
    {
        var url = new Uri($"http://127.0.0.1:{port ?? ServiceProcess.FreePort()}");
        var dbName = $"ns-core-{url.Port}-{++_coreStarts}";
        var env = Environment("CORE", [("Admin__ApiKeys__0", AdminKey), ("ASPNETCORE_URLS", url.ToString()), .. CoreSettings.Select(kv => (kv.Key, kv.Value))]);
        env["ConnectionStrings__Postgres"] += $";Application Name={dbName}";
        // NS_BENCH_JIT_LIST=/tmp/jit: every method each core compiles, with its tier and code size, one file per core process
        // (a core restarted on its port gets a new name; the variables in the bench's own environment would reach every .NET
        // process of the run, writing to one file).
        if (System.Environment.GetEnvironmentVariable("NS_BENCH_JIT_LIST") is { Length: > 0 } jitList)
            (env["DOTNET_JitStdOutFile"], env["DOTNET_JitDisasmSummary"]) = ($"{jitList}-{dbName}.txt", "1");
        var core = ServiceProcess.Start("core", Path.Combine(_root, "src/NotificationService.Core/bin/Release/net10.0/NotificationService.Core.dll"), env);
        Started.Add(core);
        await WaitHealthyAsync(url, core);
        if (index < 0) { Cores.Add(core); CoreUrls.Add(url); CoreDbNames.Add(dbName); }
        else { Cores[index] = core; CoreUrls[index] = url; CoreDbNames[index] = dbName; }
        return core;
    }

    /// <summary>
    /// Adapter:Parallelism of the workers whose phase names none, webhook and email alike (NS_BENCH_WORKER_PARALLELISM
    /// overrides it). 64, not 16: a worker's group commit takes what is in flight, so with 64 the webhook worker's CPU per
    /// job fell by about half and, in alternating profiles, the delivered rate rose by 16-25 % (bench/README.md, "Worker
    /// parallelism: the group commit's batch").
    /// </summary>
    private static readonly int DefaultWorkerParallelism =
        int.TryParse(System.Environment.GetEnvironmentVariable("NS_BENCH_WORKER_PARALLELISM"), out var p) && p > 0 ? p : 64;

    public async Task<ServiceProcess> StartWorkerAsync(string type, string adapterKey, int? parallelism = null, int replace = -1)
    {
        var listeners = parallelism ?? DefaultWorkerParallelism;
        var project = $"NotificationService.Adapters.{type}";
        var url = new Uri($"http://127.0.0.1:{ServiceProcess.FreePort()}");
        var worker = ServiceProcess.Start($"{type.ToLowerInvariant()}-worker", Path.Combine(_root, $"src/Adapters/{project}/bin/Release/net10.0/{project}.dll"),
            Environment("WORKER", [("Adapter__Key", adapterKey), ("Adapter__Parallelism", listeners.ToString()), ("ASPNETCORE_URLS", url.ToString()),
                ("ConnectionStrings__RabbitMq", WorkerRabbitMq), .. WorkerSettings.Select(kv => (kv.Key, kv.Value))]));
        Started.Add(worker);
        await Task.Delay(TimeSpan.FromSeconds(3)); // let it connect and start listening before load arrives
        if (worker.HasExited) throw new InvalidOperationException($"{project} exited at start-up:\n{worker.Log}");
        if (replace < 0) { _workers.Add(worker); WorkerUrls.Add(url); } else { _workers[replace] = worker; WorkerUrls[replace] = url; }
        return worker;
    }

    /// <summary>Stops the last core and the last worker started, and forgets them (load goes to the cores left).</summary>
    public async Task StopLastCoreAndWorkerAsync()
    {
        var (core, worker) = (Cores.Count - 1, _workers.Count - 1);
        await Cores[core].StopAsync();
        Cores.RemoveAt(core); CoreUrls.RemoveAt(core); CoreDbNames.RemoveAt(core);
        await _workers[worker].StopAsync();
        _workers.RemoveAt(worker); WorkerUrls.RemoveAt(worker);
    }

    public async Task<(Guid Id, string Name, string Key)> CreateAdapterAsync(string name, string type, object config)
    {
        await DeleteLeftoverQueueAsync(name);
        var adapter = await AdminAsync("/admin/adapters", new { name, type, config });
        return (adapter.GetProperty("id").GetGuid(), name, adapter.GetProperty("apiKey").GetString()!);
    }

    /// <summary>
    /// Each run drops the store (Database.ResetAsync) but the broker keeps the adapter's queue, named after the adapter
    /// (Topology.QueueFor), which every run gives the same name. A run that ends with messages still queued (--profile's
    /// last phase stops the worker on purpose) hands them to the next run's worker: DeliverJob messages for jobs that no
    /// longer exist, each read and skipped, hundreds a second at first and still tens in --profile's idle window. They
    /// belong to a store that is gone, so the queue goes with it.
    /// </summary>
    private async Task DeleteLeftoverQueueAsync(string adapter)
    {
        var queue = $"ns.adapter.{adapter}";
        await using var connection = await new ConnectionFactory { Uri = new Uri(_rabbitMq) }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        // ifUnused: false: no worker of this run listens yet, and one of an earlier run is gone with its store.
        var dropped = await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false);
        if (dropped > 0) Console.WriteLine($"  (deleted queue {queue}: {dropped} messages left by an earlier run)");
    }

    public Task<JsonElement> AdminAsync(string path, object body) => PostAsync(path, body, AdminKey);

    /// <summary>A POST with the bench service's key (CreateServiceAsync first).</summary>
    public Task<JsonElement> ServiceAsync(string path, object body) => PostAsync(path, body, ServiceKey);

    public async Task ServiceDeleteAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(CoreUrls[0], path));
        request.Headers.Authorization = new("Bearer", ServiceKey);
        using var response = await Http.SendAsync(request);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"DELETE {path}: {(int)response.StatusCode}");
    }

    private async Task<JsonElement> PostAsync(string path, object body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(CoreUrls[0], path)) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new("Bearer", key);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// Up to 3 minutes: a core started while the machine is saturated (./ns chaos restarts one under full load and a
    /// callback backlog, load average above 40 on 2 CPUs) gets a small share of the CPU its start-up needs.
    /// </summary>
    private async Task WaitHealthyAsync(Uri url, ServiceProcess process)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"{process.Name} exited at start-up:\n{process.Log}");
            try
            {
                using var response = await Http.GetAsync(new Uri(url, "/health"));
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { } // refused, or accepted and not served
            await Task.Delay(250);
        }
        throw new TimeoutException($"{process.Name} did not become healthy within 3 minutes:\n{process.Log}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _workers.Concat(Cores)) await p.DisposeAsync();
        Http.Dispose();
    }
}
