using System.Text.Json.Serialization;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Adapters;

/// <summary>
/// What an adapter is doing now, in <c>GET /admin/adapters[/{id}]</c>: its live workers, its queue, its oldest waiting job
/// and a status (README "Live worker status" defines each).
/// </summary>
/// <param name="Status"><c>ok</c>, <c>no live worker</c>, <c>backlog growing</c> or <c>blocked</c></param>
/// <param name="Workers">the worker nodes whose last heartbeat is within the liveness bound (Workers:LiveSeconds)</param>
/// <param name="QueueDepth">messages ready in the adapter's RabbitMQ queue at the last sample (not those a worker holds); null before the first sample or when the queue does not exist</param>
/// <param name="QueueDepthAt">when that sample was taken</param>
/// <param name="OldestWaitingSince">creation time of the oldest Queued job of the adapter; null when none waits</param>
/// <param name="OldestWaitingSeconds">how long ago that was, by the database's clock</param>
public sealed record AdapterLive(
    LiveStatus Status, IReadOnlyList<LiveWorker> Workers, long? QueueDepth, DateTimeOffset? QueueDepthAt,
    DateTimeOffset? OldestWaitingSince, double? OldestWaitingSeconds);

/// <summary>One running worker node, from its last heartbeat.</summary>
/// <param name="InFlight">sends it had in hand at that heartbeat</param>
public sealed record LiveWorker(
    string Node, string Host, string Version, int Parallelism, int InFlight, DateTimeOffset StartedAt, DateTimeOffset LastSeen);

/// <summary>An adapter's live status, spelt in JSON as README "Live worker status" defines it.</summary>
public enum LiveStatus
{
    [JsonStringEnumMemberName("ok")] Ok,
    [JsonStringEnumMemberName("no live worker")] NoLiveWorker,
    [JsonStringEnumMemberName("backlog growing")] BacklogGrowing,
    [JsonStringEnumMemberName("blocked")] Blocked,
}

/// <summary>The status rule, one place, a pure function of what was read (unit-tested in Core.Tests/Admin).</summary>
public static class AdapterLiveStatus
{
    /// <param name="oldestWaitingSeconds">age of the oldest Queued job, null when none waits</param>
    /// <param name="recentDepths">the queue's depth at the last samples, oldest first</param>
    /// <param name="backlogSamples">K: the depth rose at each of the last K samples</param>
    public static LiveStatus Decide(AdapterStatus status, int liveWorkers, double? oldestWaitingSeconds, IReadOnlyList<long> recentDepths,
        TimeSpan liveBound, int backlogSamples)
    {
        if (status == AdapterStatus.Blocked) return LiveStatus.Blocked;
        // A job that has waited longer than the bound, and no heartbeat within it: a worker that just died, or one starting
        // together with its first job, is not reported before the bound has passed.
        if (liveWorkers == 0 && oldestWaitingSeconds > liveBound.TotalSeconds) return LiveStatus.NoLiveWorker;
        if (Rising(recentDepths, backlogSamples)) return LiveStatus.BacklogGrowing;
        return LiveStatus.Ok;
    }

    /// <summary>Each of the last <paramref name="samples"/> depths higher than the one before it.</summary>
    public static bool Rising(IReadOnlyList<long> depths, int samples)
    {
        if (samples < 1 || depths.Count < samples + 1) return false;
        for (var i = depths.Count - samples; i < depths.Count; i++)
            if (depths[i] <= depths[i - 1]) return false;
        return true;
    }
}
