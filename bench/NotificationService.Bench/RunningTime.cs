using System.Text;
using System.Text.Json;

namespace NotificationService.Bench;

/// <summary>
/// Reads a dotnet-trace thread-time capture (speedscope JSON) and keeps only the time threads spent running: a stack
/// blocked in a wait, a socket poll or a timer sleep is dropped. What is left approximates CPU time by frame, which the
/// raw report (dominated by idle thread-pool threads) hides.
/// </summary>
public static class RunningTime
{
    // An idle thread-pool thread is waiting only once it blocks (WaitForSignal): its spin before that runs on a core.
    private static readonly string[] Waiting =
    [
        "LowLevelLifoSemaphore.WaitForSignal", "Monitor.Wait", "WaitHandle.Wait", "ManualResetEventSlim.Wait", "WaitForSocketEvents", "Thread.Sleep",
        "Interop+Sys.Read(", "WaitOneCore", "WaitNative", "TimerQueue.TimerThread", "Interop+Sys.Poll", "SocketAsyncEngine.EventLoop",
        "SemaphoreSlim.Wait", "WaitPid", "Task.SpinThenBlockingWait", "Task.InternalWait",
    ];

    public static string Report(string speedscopeFile, int top)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(speedscopeFile));
        var frames = document.RootElement.GetProperty("shared").GetProperty("frames").EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToArray();
        var waits = frames.Select(f => Waiting.Any(f.Contains)).ToArray();
        var inclusive = new Dictionary<int, double>();
        double running = 0, total = 0;
        foreach (var profile in document.RootElement.GetProperty("profiles").EnumerateArray())
        {
            var stack = new List<int>();
            double? last = null;
            foreach (var e in profile.GetProperty("events").EnumerateArray())
            {
                var at = e.GetProperty("at").GetDouble();
                if (last is { } from && stack.Count > 0)
                {
                    total += at - from;
                    if (!stack.Any(f => waits[f]))
                    {
                        running += at - from;
                        foreach (var frame in stack.Distinct()) inclusive[frame] = inclusive.GetValueOrDefault(frame) + (at - from);
                    }
                }
                last = at;
                if (e.GetProperty("type").GetString() == "O") stack.Add(e.GetProperty("frame").GetInt32());
                else if (stack.Count > 0) stack.RemoveAt(stack.Count - 1);
            }
        }
        var report = new StringBuilder($"running {running:0} ms of {total:0} ms sampled thread time; share of the running time per frame (inclusive):\n\n```\n");
        foreach (var (frame, ms) in inclusive.Where(kv => !frames[kv.Key].StartsWith("Thread (") && !frames[kv.Key].StartsWith("Process"))
                     .OrderByDescending(kv => kv.Value).Take(top))
            report.AppendLine($"{ms / Math.Max(running, 1) * 100,5:0.0}%  {frames[frame][..Math.Min(frames[frame].Length, 150)]}");
        return report.Append("```").ToString();
    }
}
