using JasperFx.Events;
using Marten;
using Marten.Services;
using Microsoft.Extensions.Hosting;
using NotificationService.Core.Callbacks;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Metrics;

/// <summary>
/// The core's share of the job metrics (<see cref="JobMetrics"/>), counted from what its sessions commit, whichever slice
/// wrote it: accepted jobs (a job stream started), expiries, cancels and a reconciler's failures, and callback deliveries.
/// The workers count their own commits in their journal; their sessions never reach this listener.
/// </summary>
public sealed class CommittedJobMetrics : DocumentSessionListenerBase
{
    /// <summary>The core's telemetry: the shared wiring (traces, metrics, /metrics) plus this listener on its store.</summary>
    public static IHostApplicationBuilder AddCoreTelemetry(IHostApplicationBuilder builder)
    {
        builder.AddNotificationTelemetry("ns-core");
        builder.Services.ConfigureMarten(opts => opts.Listeners.Add(new CommittedJobMetrics()));
        return builder;
    }

    public override async Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
    {
        foreach (var delivery in commit.Updated.Concat(commit.Inserted).OfType<CallbackDelivery>()) JobMetrics.CallbackDelivered(delivery.Outcome);

        List<StreamAction>? later = null;
        foreach (var stream in commit.GetStreams())
        {
            if (stream.ActionType == StreamActionType.Start) JobMetrics.Committed(null, stream.Events.Select(e => e.Data));
            else if (stream.Events.Any(e => e.Data is JobExpired or JobCanceled or JobFailed or JobPossibleDuplicate)) (later ??= []).Add(stream);
        }
        if (later is null) return;

        // Cancels and expiries are rare next to accepted jobs: their tags (adapter, service) come from the job document,
        // the one the inline projection just stored, or read back when the change set does not hold it.
        var jobs = commit.Updated.Concat(commit.Inserted).OfType<Job>().ToDictionary(j => j.Id);
        var missing = later.Select(s => s.Id).Where(id => !jobs.ContainsKey(id)).ToList();
        if (missing.Count > 0)
            foreach (var job in await session.LoadManyAsync<Job>(token, missing)) jobs[job.Id] = job;
        foreach (var stream in later)
            if (jobs.TryGetValue(stream.Id, out var job)) JobMetrics.Committed(job, stream.Events.Select(e => e.Data));
    }
}
