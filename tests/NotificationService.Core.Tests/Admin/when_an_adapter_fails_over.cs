using NotificationService.Adapters.Sms;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Admin;

/// <summary>Failover between two adapters of one type (README "Failover between adapters").</summary>
public sealed class when_an_adapter_fails_over(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    private object EmailConfig => new { host = "127.0.0.1", port = System.Smtp.Port, security = "none", from = "ns@example.test" };

    private Task BlockAsync(RegisteredAdapter adapter) =>
        System.ScenarioAsync(HttpMethod.Post, $"/admin/adapters/{adapter.Id}/block", SystemFixture.AdminKey, expect: 200);

    [Fact]
    public async Task a_job_for_a_blocked_adapter_goes_to_its_failover_and_its_stream_says_so()
    {
        // No worker serves the primary: only the failover's (the shared email worker) can deliver.
        var primary = await System.CreateAdapterAsync(UniqueName("smtp-a"), "email", EmailConfig, new { failoverAdapter = System.Email.Name });
        await BlockAsync(primary);

        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(primary.Name, "ann@example.test") } });

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal((JobState.Finished, System.Email.Name), (job.State, job.Adapter));
        Assert.Equal(System.Email.Name, offer.Jobs[0].Adapter);
        Assert.Equal(["JobQueued", "JobRoutedToFailover", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, job.Id));
        var routed = (System.Text.Json.JsonElement)(await System.GetJobEventsAsync(System.Tenant, job.Id))[1].Data;
        Assert.Equal((primary.Name, System.Email.Name, "blocked"),
            (routed.GetProperty("fromAdapter").GetString(), routed.GetProperty("toAdapter").GetString(), routed.GetProperty("reason").GetString()));
        Assert.Single(System.Smtp.Received);
    }

    [Fact]
    public async Task new_jobs_go_to_the_failover_once_the_adapter_has_failed_transiently_for_longer_than_its_bound()
    {
        await using var down = await HttpPeer.StartAsync();
        down.Reply = _ => new PeerReply(503, "{}");
        await using var up = await HttpPeer.StartAsync();
        up.Reply = _ => new PeerReply(201, """{"sid":"SM1"}""");
        object Config(HttpPeer peer) => new { baseUrl = peer.BaseUrl, accountSid = "AC1", authToken = "tok", from = "+15550001111", allowPrivateNetwork = true };
        var failover = await System.CreateAdapterAsync(UniqueName("sms-b"), "sms", Config(up));
        var primary = await System.CreateAdapterAsync(UniqueName("sms-a"), "sms", Config(down),
            new { maxAttempts = 100, initialBackoffSeconds = 0.2, maxBackoffSeconds = 0.3, failoverAdapter = failover.Name, failoverAfterSeconds = 3 });
        await System.StartWorkerAsync<SmsSender, SmsConfig>("sms", primary.ApiKey);
        await System.StartWorkerAsync<SmsSender, SmsConfig>("sms", failover.ApiKey);
        object Sms(string text) => new { targets = new[] { new { adapter = primary.Name, @params = new { to = "+4915112345678", text } } } };

        // Before the bound: the primary keeps its jobs (this one keeps failing, retried every 0.2-0.3 s). A bound of 3 s, not
        // 1: the last failure must look recent to the core (within the bound), and the subscription that records it may lag.
        var failing = await System.CreateOfferAsync(System.Tenant, Sms("first"));
        Assert.Equal(primary.Name, failing.Jobs[0].Adapter);
        await Eventually.Until(() => Sql.ScalarAsync<long>(
                $"SELECT count(*) FROM ns.mt_doc_adapterhealth WHERE id = '{primary.Id}' AND (data->>'failingSince')::timestamptz < now() - interval '3.5 seconds' AND (data->>'lastFailureAt')::timestamptz > now() - interval '1 second'"),
            n => n == 1, TimeSpan.FromSeconds(30), "the primary to have failed for longer than 3 s");

        // Polled, not a tracked session: the primary's retries never let the message activity go quiet.
        var offer = await System.CreateOfferAsync(System.Tenant, Sms("second"));
        await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id);

        Assert.Equal(failover.Name, offer.Jobs[0].Adapter);
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State);
        var routed = (System.Text.Json.JsonElement)(await System.GetJobEventsAsync(System.Tenant, offer.Jobs[0].Id))[1].Data;
        Assert.Equal((primary.Name, failover.Name, "failing"),
            (routed.GetProperty("fromAdapter").GetString(), routed.GetProperty("toAdapter").GetString(), routed.GetProperty("reason").GetString()));
        Assert.Contains("Body=second", Assert.Single(up.Requests).Body);
        Assert.DoesNotContain(down.Requests, r => r.Body.Contains("Body=second"));
        Assert.Equal(202, (await System.CancelJobAsync(System.Tenant, failing.Jobs[0].Id)).Status);
        await System.WaitForTerminalAsync(System.Tenant, failing.Jobs[0].Id);
    }

    [Fact]
    public async Task a_blocked_adapter_whose_failover_is_blocked_too_is_refused()
    {
        var failover = await System.CreateAdapterAsync(UniqueName("smtp-b"), "email", EmailConfig);
        var primary = await System.CreateAdapterAsync(UniqueName("smtp-a"), "email", EmailConfig, new { failoverAdapter = failover.Name });
        await BlockAsync(primary);
        await BlockAsync(failover);

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { ClientApi.EmailTarget(primary.Name, "ann@example.test") } });

        Assert.Equal(422, status);
        Assert.Equal($"Adapter '{primary.Name}' is blocked. Its failover adapter '{failover.Name}' is not available to this service either.",
            problem.GetProperty("errors").GetProperty("targets[0].adapter")[0].GetString());
    }

    [Fact]
    public async Task a_failover_must_exist_be_another_adapter_and_have_the_same_type()
    {
        var webhook = await System.CreateAdapterAsync(UniqueName("hook"), "webhook", new { url = "https://example.test/in", secret = "webhook-secret-0123456789" });
        var name = UniqueName("smtp-a");
        foreach (var (failover, says) in new[] { (name, "its own failover"), ("no-such-adapter", "No adapter named"), (webhook.Name, "must be a email adapter too") })
        {
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey,
                new { name, type = "email", config = EmailConfig, policy = new { failoverAdapter = failover } });
            Assert.True(status == 422, $"{failover}: {status} {problem}");
            Assert.Contains(says, problem.GetProperty("errors").GetProperty("policy.failoverAdapter")[0].GetString());
        }

        var adapter = await System.CreateAdapterAsync(name, "email", EmailConfig);
        var (patched, patchProblem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey,
            new { policy = new { failoverAdapter = webhook.Name, failoverAfterSeconds = 0 } });
        Assert.Equal(422, patched);
        Assert.True(patchProblem.GetProperty("errors").TryGetProperty("policy.failoverAdapter", out _), patchProblem.ToString());
        Assert.True(patchProblem.GetProperty("errors").TryGetProperty("policy.failoverAfterSeconds", out _), patchProblem.ToString());

        var ok = await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey,
            new { policy = new { failoverAdapter = System.Email.Name, failoverAfterSeconds = 120 } });
        Assert.Equal(200, ok.Status);
        Assert.Equal(System.Email.Name, ok.Body.GetProperty("policy").GetProperty("failoverAdapter").GetString());
    }
}
