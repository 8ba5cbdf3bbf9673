using NotificationService.Storage.Jobs;

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
