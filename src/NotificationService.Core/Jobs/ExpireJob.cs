using ConcurrencyStyle = Wolverine.Marten.ConcurrencyStyle;
using NotificationService.Storage.Jobs;
using Wolverine.Marten;

namespace NotificationService.Core.Jobs;

/// <summary>The expiry sweeper found this job still waiting past its expiry.</summary>
public sealed record ExpireJob(Guid JobId);

/// <summary>Whether the job ended Expired (false: it had ended or moved meanwhile).</summary>
public sealed record ExpiryChecked(bool Expired);

/// <summary>
/// Ends a job still waiting when its expiry passed, under its stream lock; a job that ended or was moved meanwhile (a
/// second core's sweep, a worker, a PATCH of its expiry) is left alone, so a repeated message is harmless.
/// </summary>
public static class ExpireJobHandler
{
    public static (ExpiryChecked, Events) Handle(ExpireJob message, [WriteAggregate(LoadStyle = ConcurrencyStyle.Exclusive)] Job job, TimeProvider clock)
    {
        var events = JobLifecycle.OnExpiryDue(job, clock.GetUtcNow());
        return (new ExpiryChecked(events.Count > 0), [.. events]);
    }
}
