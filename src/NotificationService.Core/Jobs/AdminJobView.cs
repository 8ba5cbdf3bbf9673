using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Jobs;

/// <summary>An operator's view of a job: the client's view plus whose it is and what the provider answered to the last failed attempt.</summary>
public sealed record AdminJobView(Guid ServiceId, Guid AdapterId, JobView Job, string? LastErrorDetail)
{
    public static AdminJobView From(Job job) => new(job.ServiceId, job.AdapterId, JobView.From(job), job.LastErrorDetail);
}
