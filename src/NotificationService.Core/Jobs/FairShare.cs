using System.Collections.Concurrent;
using NotificationService.Contracts;
using NotificationService.Hosting;
using NotificationService.Storage.Adapters;
using Wolverine;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Fair sharing of an adapter between services. Every job this core queues counts towards its service's recent volume
/// on that adapter, a count that decays with <c>Fairness:WindowSeconds</c>; the job's priority on the adapter's queue
/// (<see cref="AdapterQueues"/>) is the top one up to <c>Fairness:FreeJobs</c>, and one level lower for each doubling
/// beyond. A service flooding an adapter thus queues its backlog below the jobs of services sending at a normal pace,
/// which overtake it, while nothing is held back when the adapter is idle. In memory and per core instance: no
/// statement per job, and every instance ranks services by the same share of their traffic.
/// </summary>
public sealed class FairShare(FairShare.Settings settings, TimeProvider clock)
{
    public sealed record Settings(TimeSpan Window, int FreeJobs)
    {
        public static Settings From(IConfiguration configuration)
        {
            var window = configuration.GetValue("Fairness:WindowSeconds", 10.0);
            var free = configuration.GetValue("Fairness:FreeJobs", 50);
            if (!(window > 0 && window <= 86_400)) throw new InvalidOperationException($"Set Fairness:WindowSeconds to a number of seconds in (0, 86400]; it is {window}.");
            if (free < 1) throw new InvalidOperationException($"Set Fairness:FreeJobs to a whole number of at least 1; it is {free}.");
            return new Settings(TimeSpan.FromSeconds(window), free);
        }
    }

    private sealed class Volume { public double Jobs; public long At; }

    private readonly ConcurrentDictionary<(Guid Service, Guid Adapter), Volume> _volumes = new();

    /// <summary>
    /// The one route from the core to a worker: the job's <see cref="DeliverJob"/> (of this <paramref name="generation"/>)
    /// to its adapter's queue, at the service's fair-share priority there. Counts the job towards that share.
    /// </summary>
    public RoutedToEndpointMessage<DeliverJob> Deliver(Guid jobId, Guid serviceId, Adapter adapter, int generation = 0) =>
        new DeliverJob(jobId, adapter.Id, generation).ToDestination(Topology.QueueUri(adapter.Queue), Next(serviceId, adapter.Id));

    /// <summary>Counts one job of the service on the adapter and returns the delivery options carrying its priority.</summary>
    public DeliveryOptions Next(Guid serviceId, Guid adapterId)
    {
        var now = clock.GetTimestamp();
        if (_volumes.Count > 10_000) Forget(now);
        var volume = _volumes.GetOrAdd((serviceId, adapterId), _ => new Volume { At = now });
        double jobs;
        lock (volume)
        {
            volume.Jobs = Decayed(volume, now) + 1;
            volume.At = now;
            jobs = volume.Jobs;
        }
        return AdapterQueues.WithPriority(PriorityFor(jobs, settings.FreeJobs));
    }

    /// <summary>The top priority up to <paramref name="freeJobs"/> recent jobs, one level less per doubling beyond.</summary>
    public static byte PriorityFor(double recentJobs, int freeJobs) =>
        recentJobs <= freeJobs ? AdapterQueues.MaxPriority
        : (byte)Math.Max(0, AdapterQueues.MaxPriority - Math.Ceiling(Math.Log2(recentJobs / freeJobs)));

    private double Decayed(Volume volume, long now) =>
        volume.Jobs * Math.Exp(-clock.GetElapsedTime(volume.At, now).TotalSeconds / settings.Window.TotalSeconds);

    // Many services on many adapters: drop the pairs whose volume has decayed to nothing.
    private void Forget(long now)
    {
        foreach (var (key, volume) in _volumes)
            lock (volume) if (Decayed(volume, now) < 1) _volumes.TryRemove(key, out _);
    }
}
