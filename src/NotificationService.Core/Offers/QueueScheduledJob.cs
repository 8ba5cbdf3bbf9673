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

    public static (Events, OutgoingMessages) Handle(
        QueueScheduledJob message, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] Job job, Adapter? adapter, TimeProvider clock, FairShare fairShare)
    {
        var events = JobLifecycle.OnSendTime(job, message.SendAt, adapter, clock.GetUtcNow());
        return ([.. events], events.Any(e => e is JobQueued) ? [fairShare.Deliver(job.Id, job.ServiceId, adapter!, job.Generation)] : []);
    }
}
