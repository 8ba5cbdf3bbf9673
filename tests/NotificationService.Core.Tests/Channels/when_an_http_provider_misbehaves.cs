using System.Text.Json;
using NotificationService.Adapters.Webhook;
using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Channels;

/// <summary>
/// What a provider answers is not trusted: its body stays with the operator, its redirects are not followed, and an
/// internal address is reached only when the admin allowed it. End to end through a real webhook worker.
/// </summary>
public sealed class when_an_http_provider_misbehaves(SystemFixture system) : IntegrationContext(system)
{
    private const string Secret = "webhook-secret-0123456789";
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    private async Task<RegisteredAdapter> WebhookAsync(string url, bool allowPrivateNetwork = true)
    {
        var adapter = await System.CreateAdapterAsync(UniqueName("hook"), "webhook", new { url, secret = Secret, allowPrivateNetwork },
            policy: new { maxAttempts = 3, initialBackoffSeconds = 0.2, maxBackoffSeconds = 0.5 });
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);
        return adapter;
    }

    private async Task<Guid> OfferAsync(RegisteredAdapter adapter) =>
        (await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { n = 1 } } } } })).Jobs[0].Id;

    [Fact]
    public async Task a_job_delivered_on_attempt_2_keeps_attempt_1s_error_and_only_the_operator_sees_what_the_provider_said()
    {
        await using var receiver = await HttpPeer.StartAsync();
        receiver.ReplyNextWith(new PeerReply(500, "upstream db-password=hunter2 timed out"));
        var jobId = await OfferAsync(await WebhookAsync(receiver.BaseUrl + "/in"));

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(2, job.Attempts);
        Assert.Equal("The provider answered HTTP 500 Internal Server Error.", job.LastError);
        Assert.Equal(1, job.LastErrorAttempt);

        var (_, tenantJob) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}", System.Tenant.ApiKey);
        var (_, tenantEvents) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}/events", System.Tenant.ApiKey);
        Assert.DoesNotContain("hunter2", tenantJob.GetRawText());
        Assert.DoesNotContain("hunter2", tenantEvents.GetRawText());
        Assert.DoesNotContain("\"detail\"", tenantEvents.GetRawText());
        var failedAttempt = tenantEvents.EnumerateArray().Single(e => e.GetProperty("type").GetString() == nameof(JobAttemptFailed)).GetProperty("data");
        Assert.Equal(1, failedAttempt.GetProperty("attempt").GetInt32());
        Assert.Equal(job.LastError, failedAttempt.GetProperty("error").GetString());

        var admin = await System.SendAsync<AdminJobView>(HttpMethod.Get, $"/admin/jobs/{jobId}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("upstream db-password=hunter2 timed out", admin.LastErrorDetail);
        Assert.Equal(1, admin.Job.LastErrorAttempt);
        var (_, adminEvents) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs/{jobId}/events", SystemFixture.AdminKey);
        Assert.Equal("upstream db-password=hunter2 timed out", adminEvents.EnumerateArray()
            .Single(e => e.GetProperty("type").GetString() == nameof(JobAttemptFailed)).GetProperty("data").GetProperty("detail").GetString());
    }

    [Fact]
    public async Task a_redirect_fails_the_job_naming_the_location_and_the_other_host_gets_nothing()
    {
        await using var elsewhere = await HttpPeer.StartAsync();
        elsewhere.Reply = _ => new PeerReply(200, """{"internal":"another host's data"}""");
        await using var receiver = await HttpPeer.StartAsync();
        receiver.Reply = _ => new PeerReply(307, "", new Dictionary<string, string> { ["Location"] = elsewhere.BaseUrl + "/internal" });
        var jobId = await OfferAsync(await WebhookAsync(receiver.BaseUrl + "/in"));

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(1, job.Attempts); // permanent: not retried
        Assert.Equal($"HTTP 307 redirect to {elsewhere.BaseUrl}/internal was not followed.", job.LastError);
        Assert.Empty(elsewhere.Requests);
    }

    [Fact]
    public async Task a_private_address_is_refused_unless_the_adapter_allows_it()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var jobId = await OfferAsync(await WebhookAsync(receiver.BaseUrl + "/in", allowPrivateNetwork: false));

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Contains("allowPrivateNetwork", job.LastError);
        Assert.Equal(1, job.LastErrorAttempt);
        Assert.Empty(receiver.Requests);
    }
}
