using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace NotificationService.Bench;

/// <summary>A core or worker process started from its Release build, with what the benchmark reads from /proc.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    private ServiceProcess(string name, Process process) => (Name, _process) = (name, process);

    public static ServiceProcess Start(string name, string dll, IDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        foreach (var (k, v) in environment) start.Environment[k] = v;
        var service = new ServiceProcess(name, Process.Start(start)!);
        service._process.OutputDataReceived += (_, e) => { if (e.Data is { } l) lock (service._log) service._log.AppendLine(l); };
        service._process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) lock (service._log) service._log.AppendLine(l); };
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();
        return service;
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>User + system CPU time so far; the last value seen once the process has exited.</summary>
    public TimeSpan CpuTime() => _lastCpuTime = ProcStat.Read(Pid)?.Cpu ?? _lastCpuTime;

    private TimeSpan _lastCpuTime;

    /// <summary>Peak resident set size so far (VmHWM), in MB.</summary>
    public double PeakRssMb() => StatusMb("VmHWM:");

    /// <summary>Resident set size now (VmRSS), in MB.</summary>
    public double RssMb() => StatusMb("VmRSS:");

    private double StatusMb(string field) =>
        double.Parse(File.ReadAllLines($"/proc/{Pid}/status").First(l => l.StartsWith(field)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;

    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>
    /// SIGTERM, and wait for the host to shut down cleanly (Wolverine releases its node, the async daemon its progress and
    /// lock), so a restart starts from a stored state; SIGKILL if it has not exited after 30 s.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        SendSignal(_process.Id, 15);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await _process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { await KillAsync(); }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One process's line in /proc/[pid]/stat: its command name, state ('Z': exited, not yet reaped), parent and CPU time (user + system).</summary>
public sealed record ProcStat(string Command, char State, int ParentPid, TimeSpan Cpu)
{
    /// <summary>Null when the process is gone.</summary>
    public static ProcStat? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // the command may contain spaces and ')'
            return new ProcStat(stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')], fields[0][0], int.Parse(fields[1]),
                TimeSpan.FromMilliseconds((long.Parse(fields[11]) + long.Parse(fields[12])) * 10)); // clock ticks of 10 ms
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public static IEnumerable<int> AllPids() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(d => int.TryParse(d, out _)).Select(d => int.Parse(d!));
}
