using Marten;
using JasperFx.Events;
using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;
using NotificationService.Contracts;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Marten;

namespace NotificationService.Core.Offers;

/// <summary>Delivered to the core itself at a scheduled job's send time.</summary>
public sealed record QueueScheduledJob(Guid JobId, Guid AdapterId, DateTimeOffset SendAt);

/// <summary>At a scheduled job's send time: queue it to its adapter, unless it ended or was moved meanwhile.</summary>
public static class QueueScheduledJobHandler
{
    public static Task<Adapter?> LoadAsync(QueueScheduledJob message, IQuerySession session) => session.LoadAsync<Adapter>(message.AdapterId);

    public static OutgoingMessages Handle(
        QueueScheduledJob message, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] IEventStream<Job> stream, Adapter? adapter, TimeProvider clock, FairShare fairShare)
    {
        var job = stream.Aggregate;
        // Rescheduled (a later message carries the new time), canceled or expired: this message has nothing to do.
        if (job is not { State: JobState.Scheduled } || job.SendAt != message.SendAt) return [];

        var now = clock.GetUtcNow();
        if (job.IsExpiredAt(now)) { stream.AppendOne(new JobExpired(job.Id, now)); return []; }
        if (adapter is null) { stream.AppendOne(new JobFailed(job.Id, 0, "The adapter was deleted before the send time.", now)); return []; }

        stream.AppendOne(new JobQueued(job.Id, job.OfferId, job.ServiceId, adapter.Id, adapter.Name, job.Params, now, job.ExpireAt));
        return [fairShare.Deliver(job.Id, job.ServiceId, adapter, job.Generation)];
    }
}
