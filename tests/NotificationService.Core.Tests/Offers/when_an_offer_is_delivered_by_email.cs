using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_an_offer_is_delivered_by_email(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_email_reaches_the_smtp_server_and_the_job_history_reads_queued_started_finished()
    {
        var offer = await System.DeliverOfferAsync(System.Tenant,
            new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "ada@example.test", "Welcome", "First notification") } });

        var jobId = Assert.Single(offer.Jobs).Id;
        var job = await System.GetJobAsync(System.Tenant, jobId);

        Assert.Equal(JobState.Finished, job.State);
        Assert.NotNull(job.StartedAt);
        Assert.NotNull(job.FinishedAt);
        Assert.True(job.StartedAt <= job.FinishedAt);
        Assert.Equal(1, job.Attempts);

        var mail = Assert.Single(System.Smtp.To("ada@example.test"));
        Assert.Equal("Welcome", mail.Subject);
        Assert.Equal("First notification", mail.TextBody?.Trim());
        Assert.Equal(jobId.ToString(), mail.Headers["X-Notification-Job"]);

        var events = await System.GetJobEventsAsync(System.Tenant, jobId);
        Assert.Equal(["JobQueued", "JobStarted", "JobFinished"], events.Select(e => e.Type));
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.Version));
    }

    [Fact]
    public async Task each_target_becomes_its_own_job()
    {
        var offer = await System.DeliverOfferAsync(System.Tenant, new
        {
            targets = new[]
            {
                ClientApi.EmailTarget(System.Email.Name, "one@example.test"),
                ClientApi.EmailTarget(System.Email.Name, "two@example.test"),
            },
        }, deliveries: 2);

        Assert.Equal(2, offer.Jobs.Select(j => j.Id).Distinct().Count());
        foreach (var job in offer.Jobs)
            Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, job.Id)).State);
        Assert.Single(System.Smtp.To("one@example.test"));
        Assert.Single(System.Smtp.To("two@example.test"));
    }
}
