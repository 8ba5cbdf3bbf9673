using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Jobs;

public sealed class when_an_operator_reads_job_history(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task jobs_can_be_searched_across_services_and_a_failed_one_re_driven()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox");
        var failed = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "retry@example.test") } });
        var failedJob = await System.GetJobAsync(System.Tenant, failed.Jobs[0].Id);
        Assert.Equal(JobState.Failed, failedJob.State);
        var theirs = await System.DeliverOfferAsync(other, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "theirs@example.test") } });

        var failedOnes = await System.SendAsync<PagedResult<AdminJobView>>(HttpMethod.Get, "/admin/jobs?state=Failed", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(failedJob.Id, Assert.Single(failedOnes.Items).Job.Id);
        var theirJobs = await System.SendAsync<PagedResult<AdminJobView>>(HttpMethod.Get, $"/admin/jobs?service={other.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(theirs.Jobs[0].Id, Assert.Single(theirJobs.Items).Job.Id);
        var counts = await System.SendAsync<List<JobCount>>(HttpMethod.Get, "/admin/jobs/counts", SystemFixture.AdminKey, expect: 200);
        Assert.Contains(new JobCount(System.Email.Name, JobState.Failed, 1), counts);
        Assert.Contains(new JobCount(System.Email.Name, JobState.Finished, 1), counts);

        // Tracked until the worker has handled the re-driven delivery.
        await System.TrackAsync(() => System.ScenarioAsync(HttpMethod.Post, $"/admin/jobs/{failedJob.Id}/retry", SystemFixture.AdminKey, expect: 202),
            new Handled<DeliverJob>(m => m.JobId == failedJob.Id));
        var retried = await System.GetJobAsync(System.Tenant, failedJob.Id);
        Assert.Equal(JobState.Finished, retried.State);
        Assert.Equal(2, retried.Attempts);
        Assert.Equal(1, retried.Retries);
        Assert.Single(System.Smtp.To("retry@example.test"));
        var events = await System.SendAsync<List<HistoryEntry>>(HttpMethod.Get, $"/admin/jobs/{failedJob.Id}/events", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["JobQueued", "JobStarted", "JobFailed", "JobRetryRequested", "JobStarted", "JobFinished"], events.Select(e => e.Type));

        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Post, $"/admin/jobs/{failedJob.Id}/retry", SystemFixture.AdminKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs/{Guid.NewGuid()}", SystemFixture.AdminKey)).Status);
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, "/admin/jobs?pageSize=100000", SystemFixture.AdminKey)).Status);
    }

    [Fact]
    public async Task the_search_pages_newest_first_with_the_total_of_its_matches()
    {
        var tenant = await System.CreateTenantAsync($"paged-{Guid.NewGuid():N}");
        var jobs = new List<Guid>();
        for (var i = 0; i < 3; i++) // scheduled for tomorrow, so they stay as they are
            jobs.Add((await System.CreateOfferAsync(tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, $"paged{i}@example.test") }, sendAt = DateTimeOffset.UtcNow.AddDays(1),
            })).Jobs[0].Id);

        async Task<PagedResult<AdminJobView>> PageAsync(int page) =>
            await System.SendAsync<PagedResult<AdminJobView>>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&pageSize=2&page={page}", SystemFixture.AdminKey, expect: 200);

        var first = await PageAsync(1);
        Assert.Equal((3, 1, 2), (first.Total, first.Page, first.PageSize));
        Assert.Equal([jobs[2], jobs[1]], first.Items.Select(j => j.Job.Id));
        var second = await PageAsync(2);
        Assert.Equal(3, second.Total);
        Assert.Equal([jobs[0]], second.Items.Select(j => j.Job.Id));
        var past = await PageAsync(3);
        Assert.Equal(3, past.Total);
        Assert.Empty(past.Items);
    }
}
