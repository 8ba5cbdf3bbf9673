using System.Diagnostics;
using System.Text;

namespace NotificationService.Testing;

/// <summary>
/// An adapter worker as operations run it: its own process, started from its built assembly with its key in the
/// environment, so tests can run several of them and kill one with SIGKILL.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Pid => _process.Id;
    public string Output { get { lock (_output) return _output.ToString(); } }
    public bool HasExited => _process.HasExited;

    private WorkerProcess(Process process) => _process = process;

    /// <param name="project">e.g. "NotificationService.Adapters.Webhook" (under src/Adapters)</param>
    public static async Task<WorkerProcess> StartAsync(string project, string adapterKey, int parallelism = 4)
    {
        var dll = Path.Combine(RepositoryRoot(), "src", "Adapters", project, "bin", BuildConfiguration(), "net10.0", project + ".dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"Build the solution first: {dll} is missing.");
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)!,
            Environment =
            {
                ["Adapter__Key"] = adapterKey, ["Adapter__Parallelism"] = parallelism.ToString(), ["Adapter__StatusPollSeconds"] = "0.5",
                ["Adapter__HeartbeatSeconds"] = "0.5",
                ["ConnectionStrings__RabbitMq"] = TestEnvironment.WorkerRabbitMq,
                ["ASPNETCORE_URLS"] = "http://127.0.0.1:0", ["Logging__LogLevel__Default"] = "Information",
                ["ConnectionStrings__Postgres"] = TestEnvironment.WorkerPostgres,
            },
        };
        var worker = new WorkerProcess(Process.Start(start)!);
        worker._process.OutputDataReceived += (_, e) => worker.Record(e.Data);
        worker._process.ErrorDataReceived += (_, e) => worker.Record(e.Data);
        worker._process.BeginOutputReadLine();
        worker._process.BeginErrorReadLine();

        var exited = worker._process.WaitForExitAsync();
        if (await Task.WhenAny(worker._started.Task, exited, Task.Delay(TimeSpan.FromSeconds(60))) != worker._started.Task)
            throw new InvalidOperationException($"Worker {project} did not start:\n{worker.Output}");
        return worker;
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.Contains("Application started", StringComparison.Ordinal)) _started.TrySetResult();
    }

    /// <summary>SIGKILL: no shutdown code runs, in-flight sends die mid-way, unacknowledged messages go back to the queue.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: the graceful stop an orchestrator sends.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", Pid.ToString()])) await kill.WaitForExitAsync();
        using var wait = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(wait.Token);
        return _process.ExitCode;
    }

    /// <summary>Runs a worker that is expected to refuse to start; returns its exit code and everything it printed.</summary>
    /// <param name="environment">variables to set, or with a null value to remove, in the worker's environment</param>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(
        string project, string adapterKey, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var dll = Path.Combine(RepositoryRoot(), "src", "Adapters", project, "bin", BuildConfiguration(), "net10.0", project + ".dll");
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)!,
            Environment =
            {
                ["Adapter__Key"] = adapterKey, ["ConnectionStrings__RabbitMq"] = TestEnvironment.WorkerRabbitMq, ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
                ["ConnectionStrings__Postgres"] = TestEnvironment.WorkerPostgres,
            },
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            if (value is null) start.Environment.Remove(name); else start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var wait = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(wait.Token);
        return (process.ExitCode, await stderr + await stdout);
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NotificationService.sln"))) return dir.FullName;
        throw new InvalidOperationException("NotificationService.sln not found above the test assembly.");
    }

    private static string BuildConfiguration() =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) await KillAsync();
        _process.Dispose();
    }
}
