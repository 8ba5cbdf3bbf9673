using System.Text.Json;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Jobs;

public static class JobChanges
{
    /// <summary>
    /// A copy of the job with these events applied, as its inline projection leaves it once they commit: for a response
    /// that shows a change before it is committed. Through the job's own Apply methods, so it cannot drift from them.
    /// </summary>
    public static Job With(this Job job, IEnumerable<object> events)
    {
        var copy = JsonSerializer.Deserialize<Job>(JsonSerializer.SerializeToUtf8Bytes(job))!;
        foreach (var e in events)
        {
            var apply = typeof(Job).GetMethod(nameof(Job.Apply), [e.GetType()])
                        ?? throw new InvalidOperationException($"Job has no Apply method for {e.GetType().Name}.");
            apply.Invoke(copy, [e]);
        }
        return copy;
    }
}
