using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using NotificationService.Storage.Jobs;

namespace NotificationService.Hosting;

/// <summary>
/// The service's own meter. Jobs are counted where their events are committed, so a count is a fact, never an intention:
/// the worker counts what its journal commits (started, finished, failed, retries, duplicates, and a cancel or expiry it
/// found at pick-up), the core what its sessions commit (accepted, expired, canceled, a reconciler's failure) and its
/// callback deliveries. Every process counts only its own commits, so no event is counted twice. Tags: <c>adapter</c>
/// (its name) and <c>service</c> (the tenant's id: one series per tenant and adapter).
/// </summary>
public static class JobMetrics
{
    public const string MeterName = "NotificationService";

    private static readonly Meter Meter = new(MeterName, typeof(JobMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>("ns.jobs.accepted", "{job}", "Jobs created by offers (queued or scheduled)");
    private static readonly Counter<long> Started = Meter.CreateCounter<long>("ns.jobs.started", "{attempt}", "Send attempts started by workers");
    private static readonly Counter<long> Finished = Meter.CreateCounter<long>("ns.jobs.finished", "{job}", "Jobs delivered");
    private static readonly Counter<long> Failed = Meter.CreateCounter<long>("ns.jobs.failed", "{job}", "Jobs that ended Failed");
    private static readonly Counter<long> Expired = Meter.CreateCounter<long>("ns.jobs.expired", "{job}", "Jobs that expired before they started");
    private static readonly Counter<long> Canceled = Meter.CreateCounter<long>("ns.jobs.canceled", "{job}", "Jobs canceled");
    private static readonly Counter<long> Retries = Meter.CreateCounter<long>("ns.jobs.retries", "{attempt}", "Attempts that failed transiently and were scheduled again");
    private static readonly Counter<long> Duplicates = Meter.CreateCounter<long>("ns.jobs.possible_duplicates", "{job}", "Attempts started again after one that never ended");
    // The SDK's default buckets (0, 5, 10, 25, ... 10000) are made for milliseconds: in seconds every send would fall in
    // the first one. These span a fast send (5 ms) to a long queue wait (5 min).
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    };

    private static readonly Histogram<double> Latency = Meter.CreateHistogram("ns.jobs.latency", "s", "From queued (or due) to delivered", advice: Seconds);
    private static readonly Histogram<double> SendDuration = Meter.CreateHistogram("ns.send.duration", "s", "One channel send, whatever its result", advice: Seconds);
    private static readonly Counter<long> RateLimitWaits = Meter.CreateCounter<long>("ns.rate_limit.waits", "{send}", "Sends that waited for the adapter's rate limit");
    private static readonly Counter<double> RateLimitWaitTime = Meter.CreateCounter<double>("ns.rate_limit.waited", "s", "Time sends waited for the adapter's rate limit");
    private static readonly Counter<long> Callbacks = Meter.CreateCounter<long>("ns.callbacks.deliveries", "{delivery}", "Status callback delivery attempts, by outcome");

    /// <summary>The events just committed to one job's stream; <paramref name="job"/> as it was before them (null for a new stream).</summary>
    public static void Committed(Job? job, IEnumerable<object> events)
    {
        foreach (var e in events)
        {
            switch (e)
            {
                case JobQueued q when job is null: Accepted.Add(1, Tags(q.AdapterName, q.ServiceId)); return;
                case JobScheduled s: Accepted.Add(1, Tags(s.AdapterName, s.ServiceId)); return;
            }
            if (job is null) return;
            var tags = Tags(job.AdapterName, job.ServiceId);
            switch (e)
            {
                case JobStarted: Started.Add(1, tags); break;
                case JobPossibleDuplicate: Duplicates.Add(1, tags); break;
                case JobAttemptFailed: Retries.Add(1, tags); break;
                case JobFinished f:
                    Finished.Add(1, tags);
                    Latency.Record(Math.Max(0, (f.FinishedAt - QueuedAt(job)).TotalSeconds), new TagList { { "adapter", job.AdapterName } });
                    break;
                case JobFailed: Failed.Add(1, tags); break;
                case JobExpired: Expired.Add(1, tags); break;
                case JobCanceled: Canceled.Add(1, tags); break;
            }
        }
    }

    public static void Sent(string adapter, TimeSpan duration) => SendDuration.Record(duration.TotalSeconds, new TagList { { "adapter", adapter } });

    public static void RateLimitWaited(string adapter, TimeSpan wait)
    {
        var tags = new TagList { { "adapter", adapter } };
        RateLimitWaits.Add(1, tags);
        RateLimitWaitTime.Add(wait.TotalSeconds, tags);
    }

    public static void CallbackDelivered(string outcome) => Callbacks.Add(1, new TagList { { "outcome", outcome } });

    /// <summary>A scheduled job waits for its send time, which is not the service's latency; an immediate one was queued when created.</summary>
    private static DateTimeOffset QueuedAt(Job job) => job.SendAt is { } sendAt && sendAt > job.CreatedAt ? sendAt : job.CreatedAt;

    // One string per tenant, made once: the hot path allocates nothing but the tag list.
    private static readonly ConcurrentDictionary<Guid, string> ServiceTags = new();

    private static TagList Tags(string adapter, Guid service) =>
        new() { { "adapter", adapter }, { "service", ServiceTags.GetOrAdd(service, static id => id.ToString()) } };
}
