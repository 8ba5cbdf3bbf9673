using NotificationService.Contracts;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Core.Tests.Storage;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Jobs;

public sealed class when_a_job_runs_its_course(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_permanent_smtp_rejection_fails_the_job_at_once_with_the_servers_reply()
    {
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "ghost@example.test");
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "ghost@example.test") } });

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(1, job.Attempts);
        Assert.Equal("The SMTP server refused the message: 550 MailboxUnavailable.", job.LastError);
        Assert.Equal(["JobQueued", "JobStarted", "JobFailed"], await System.EventTypesAsync(System.Tenant, job.Id));
        // The server's own words are for the operator only.
        Assert.DoesNotContain("no such mailbox", (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{job.Id}/events", System.Tenant.ApiKey)).Body.ToString());
        var admin = await System.SendAsync<System.Text.Json.JsonElement>(HttpMethod.Get, $"/admin/jobs/{job.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Contains("no such mailbox", admin.GetProperty("lastErrorDetail").GetString());
    }

    [Fact]
    public async Task a_transient_smtp_reply_is_retried_and_the_job_then_finishes()
    {
        System.Smtp.ReplyNextWith((SmtpReplyCode)451, "try again later", to: "busy@example.test");
        // Two deliveries: the first attempt, then its retry.
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "busy@example.test") } }, deliveries: 2);

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(2, job.Attempts);
        var mail = Assert.Single(System.Smtp.To("busy@example.test"));
        Assert.Equal($"ns.{job.Id:N}@example.test", mail.MessageId); // the job's own Message-ID, as on every attempt
        Assert.Equal(["JobQueued", "JobStarted", "JobAttemptFailed", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, job.Id));
    }

    [Fact]
    public async Task the_expiry_sweep_reads_only_the_jobs_not_yet_sent()
    {
        // Not every job whose expiry passed: most ended long before it (70 ms a sweep, every 5 s, with 300,000 of them).
        var scans = await QueryPlans.ScansAsync(ExpirySweeper.DueSql.Replace("?", "$1"), "mt_doc_job", DateTimeOffset.UtcNow);
        Assert.DoesNotContain(scans, s => s.NodeType == "Seq Scan");
        Assert.Equal(["mt_doc_job_idx_expire_at_not_sent"], scans.Select(s => s.Index).OfType<string>().Distinct());
    }

    [Fact]
    public async Task a_job_waiting_behind_a_stopped_adapter_expires_on_time_and_is_never_sent()
    {
        var idle = await System.CreateEmailAdapterAsync($"stopped-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(idle.Name, "expired@example.test") },
            expireAt = DateTimeOffset.UtcNow.AddSeconds(2),
        });
        var jobId = offer.Jobs[0].Id;

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Expired, job.State);
        Assert.Null(job.StartedAt);

        await Eventually.Until(() => Broker.QueueDepthAsync(idle.Queue, missingIsEmpty: true), depth => depth == 1, what: "the job's message to reach the queue");
        var worker = await System.StartEmailWorkerAsync(idle.ApiKey);
        await Eventually.Until(() => Broker.QueueDepthAsync(idle.Queue), depth => depth == 0, what: "the worker to take the job");
        await System.StopWorkerAsync(worker);
        Assert.Empty(System.Smtp.To("expired@example.test"));
        Assert.Equal(["JobQueued", "JobExpired"], await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task a_scheduled_job_waits_until_its_send_time()
    {
        var sendAt = DateTimeOffset.UtcNow.AddSeconds(3);
        OfferAccepted? offer = null;
        var stateBeforeSendTime = default(JobState);
        // Tracked from the POST on (so however slow the machine, the session is there when the scheduled message fires at
        // the send time), until the worker has handled the delivery it queued.
        await System.TrackAsync(async () =>
        {
            offer = await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, "later@example.test") },
                sendAt,
            });
            stateBeforeSendTime = (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State;
        }, new Handled<DeliverJob>(m => m.JobId == offer?.Jobs[0].Id), TimeSpan.FromSeconds(60));
        var jobId = offer!.Jobs[0].Id;
        Assert.Equal(JobState.Scheduled, offer.Jobs[0].State);
        Assert.Equal(JobState.Scheduled, stateBeforeSendTime);

        var job = await System.GetJobAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.True(job.StartedAt >= sendAt, $"started {job.StartedAt:O}, scheduled for {sendAt:O}");
        Assert.Single(System.Smtp.To("later@example.test"));
        Assert.Equal(["JobScheduled", "JobQueued", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
    }
}
