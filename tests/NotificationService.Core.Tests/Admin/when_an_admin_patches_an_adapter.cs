using System.Text.Json;
using NotificationService.Adapters.Webhook;
using NotificationService.Core.Adapters;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Admin;

/// <summary>PATCH /admin/adapters/{id} is a JSON merge patch (RFC 7396) of config and policy; omitted secrets are kept.</summary>
public sealed class when_an_admin_patches_an_adapter(SystemFixture system) : IntegrationContext(system)
{
    private const string Secret = "webhook-secret-0123456789";
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    private Task<(int Status, JsonElement Body)> PatchAsync(Guid id, object body) =>
        System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{id}", SystemFixture.AdminKey, body);

    [Fact]
    public async Task a_config_patch_without_the_secret_keeps_the_stored_one_and_the_fields_not_sent()
    {
        await using var old = await HttpPeer.StartAsync();
        await using var receiver = await HttpPeer.StartAsync();
        var adapter = await System.CreateAdapterAsync(UniqueName("hook"), "webhook", new { url = old.BaseUrl + "/in", secret = Secret, timeoutSeconds = 7, allowPrivateNetwork = true });

        // The webhook secret has a minimum length, which a placeholder standing in for it used to fail.
        var (status, body) = await PatchAsync(adapter.Id, new { config = new { url = receiver.BaseUrl + "/in" } });
        Assert.True(status == 200, body.ToString());
        var view = body.Deserialize<AdapterView>(SystemFixture.Json)!;
        Assert.Equal(receiver.BaseUrl + "/in", view.Config.GetProperty("url").GetString());
        Assert.Equal(7, view.Config.GetProperty("timeoutSeconds").GetInt32());
        Assert.Equal(["secret"], view.SecretsSet);

        // The worker signs with the secret stored at creation: the patch kept it.
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { n = 1 } } } } });
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, offer.Jobs[0].Id)).State);
        var request = Assert.Single(receiver.Requests);
        var signature = request.Headers["X-NS-Signature"].Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(WebhookSender.Sign(Secret, long.Parse(signature["t"]), request.Body), signature["v1"]);
        Assert.Empty(old.Requests);
    }

    [Fact]
    public async Task the_merged_config_is_validated_and_null_removes_a_field()
    {
        var adapter = await System.CreateAdapterAsync(UniqueName("hook"), "webhook", new { url = "http://127.0.0.1:9/in", secret = Secret, timeoutSeconds = 7 });

        var (tooShort, problem) = await PatchAsync(adapter.Id, new { config = new { secret = "short" } });
        Assert.Equal(422, tooShort);
        Assert.True(problem.GetProperty("errors").TryGetProperty("config.secret", out _), problem.ToString());
        // null removes a field, a secret too: the webhook's secret is required.
        var (noSecret, noSecretProblem) = await PatchAsync(adapter.Id, new { config = new { secret = (string?)null } });
        Assert.Equal(422, noSecret);
        Assert.Equal("is required", noSecretProblem.GetProperty("errors").GetProperty("config.secret")[0].GetString());
        var (zero, zeroProblem) = await PatchAsync(adapter.Id, new { config = new { timeoutSeconds = 0 } });
        Assert.Equal(422, zero);
        Assert.True(zeroProblem.GetProperty("errors").TryGetProperty("config.timeoutSeconds", out _), zeroProblem.ToString());
        var (noUrl, noUrlProblem) = await PatchAsync(adapter.Id, new { config = new { url = (string?)null } });
        Assert.Equal(422, noUrl);
        Assert.True(noUrlProblem.GetProperty("errors").TryGetProperty("config.url", out _), noUrlProblem.ToString());

        var removed = await System.SendAsync<AdapterView>(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey,
            new { config = new { timeoutSeconds = (int?)null } }, expect: 200);
        Assert.False(removed.Config.TryGetProperty("timeoutSeconds", out _), removed.Config.ToString());
        Assert.Equal("http://127.0.0.1:9/in", removed.Config.GetProperty("url").GetString());
        Assert.Equal(["secret"], removed.SecretsSet);
    }

    [Fact]
    public async Task a_policy_patch_changes_only_the_fields_sent()
    {
        var adapter = await System.CreateAdapterAsync(UniqueName("pol"), "webhook", new { url = "http://127.0.0.1:9/in", secret = Secret },
            policy: new { maxAttempts = 5, initialBackoffSeconds = 3, maxBackoffSeconds = 60, rateLimitPerSecond = 20, defaultTtlSeconds = 86400 });

        var patched = await System.SendAsync<AdapterView>(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey,
            new { policy = new { maxAttempts = 2 } }, expect: 200);
        Assert.Equal(new NotificationService.Storage.Adapters.DeliveryPolicy
            { MaxAttempts = 2, InitialBackoffSeconds = 3, MaxBackoffSeconds = 60, RateLimitPerSecond = 20, DefaultTtlSeconds = 86400 }, patched.Policy);

        // null removes a field: no rate limit, and a field with a default goes back to it.
        patched = await System.SendAsync<AdapterView>(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey,
            new { policy = new { rateLimitPerSecond = (double?)null, maxAttempts = (int?)null } }, expect: 200);
        Assert.Null(patched.Policy.RateLimitPerSecond);
        Assert.Equal(5, patched.Policy.MaxAttempts);
        Assert.Equal(86400, patched.Policy.DefaultTtlSeconds);

        var stored = await System.SendAsync<AdapterView>(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(patched.Policy, stored.Policy);

        var (status, problem) = await PatchAsync(adapter.Id, new { policy = new { maxAtempts = 3, initialBackoffSeconds = "soon" } });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("policy.maxAtempts", out _)
            || problem.GetProperty("errors").TryGetProperty("policy.initialBackoffSeconds", out _), problem.ToString());
        var (merged, mergedProblem) = await PatchAsync(adapter.Id, new { policy = new { maxBackoffSeconds = 1 } });
        Assert.Equal(422, merged); // below the stored initialBackoffSeconds of 3
        Assert.True(mergedProblem.GetProperty("errors").TryGetProperty("policy.maxBackoffSeconds", out _), mergedProblem.ToString());
    }
}
