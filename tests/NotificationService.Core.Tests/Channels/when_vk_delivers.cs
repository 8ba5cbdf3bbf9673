using System.Collections.Specialized;
using System.Text.Json;
using System.Web;
using NotificationService.Adapters.Vk;
using NotificationService.Core.Adapters;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Channels;

/// <summary>
/// The vk adapter type end to end: offer -> core -> RabbitMQ -> a vk worker (a host in this process, or a real process
/// for the SIGKILL) -> a local server answering like the VK API's messages.send.
/// </summary>
public sealed class when_vk_delivers(SystemFixture system) : IntegrationContext(system)
{
    private const string Token = "vk1.a.community-token";
    private static string UniqueName() => $"vk-{Guid.NewGuid():N}"[..20];
    private static NameValueCollection Form(RecordedRequest request) => HttpUtility.ParseQueryString(request.Body);
    private static string VkError(int code, string message) =>
        JsonSerializer.Serialize(new { error = new { error_code = code, error_msg = message, request_params = Array.Empty<object>() } });

    private Task<RegisteredAdapter> VkAdapterAsync(HttpPeer vk, object? policy = null) =>
        System.CreateAdapterAsync(UniqueName(), "vk", new { accessToken = Token, apiBaseUrl = vk.BaseUrl, apiVersion = "5.199", allowPrivateNetwork = true }, policy);

    private static object Offer(RegisteredAdapter adapter, object parameters) => new { targets = new[] { new { adapter = adapter.Name, @params = parameters } } };

    private async Task<string?> ProviderMessageIdAsync(Guid jobId) =>
        ((JsonElement)(await System.GetJobEventsAsync(System.Tenant, jobId)).Single(e => e.Type == "JobFinished").Data).GetProperty("providerMessageId").GetString();

    [Fact]
    public async Task a_message_is_delivered_with_the_token_version_and_the_jobs_random_id()
    {
        await using var vk = await HttpPeer.StartAsync();
        vk.Reply = _ => new PeerReply(200, """{"response":4711}""");
        var adapter = await VkAdapterAsync(vk);
        var worker = await System.StartWorkerAsync<VkSender, VkConfig>("vk", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter, new { peerId = 2000000001, message = "Build failed", disableMentions = true }), worker: worker);

        var jobId = offer.Jobs[0].Id;
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, jobId)).State);
        Assert.Equal("4711", await ProviderMessageIdAsync(jobId));
        var request = Assert.Single(vk.Requests);
        Assert.Equal("/method/messages.send", request.Path);
        var form = Form(request);
        Assert.Equal(Token, form["access_token"]);
        Assert.Equal("5.199", form["v"]);
        Assert.Equal(VkSender.RandomId(jobId).ToString(), form["random_id"]);
        Assert.Equal("2000000001", form["peer_id"]);
        Assert.Equal("Build failed", form["message"]);
        Assert.Equal("1", form["disable_mentions"]);
    }

    [Fact]
    public async Task flood_control_is_retried_after_the_adapters_backoff_with_the_same_random_id_and_then_delivered()
    {
        await using var vk = await HttpPeer.StartAsync();
        vk.ReplyNextWith(new PeerReply(200, VkError(9, "Flood control")));
        vk.Reply = _ => new PeerReply(200, """{"response":12}""");
        var adapter = await VkAdapterAsync(vk, policy: new { maxAttempts = 3, initialBackoffSeconds = 1, maxBackoffSeconds = 1 });
        var worker = await System.StartWorkerAsync<VkSender, VkConfig>("vk", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter, new { domain = "ops_team", message = "Disk full" }), deliveries: 2, worker: worker);

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(2, job.Attempts);
        Assert.Equal("VK answered error 9: flood control.", job.LastError);
        var requests = vk.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(0.8), "the retry waited the backoff (1 s, ±20% jitter)");
        Assert.Equal(Form(requests[0])["random_id"], Form(requests[1])["random_id"]);
        Assert.Equal("12", await ProviderMessageIdAsync(job.Id));
    }

    [Fact]
    public async Task an_authorization_error_fails_the_job_at_once()
    {
        await using var vk = await HttpPeer.StartAsync();
        vk.Reply = _ => new PeerReply(200, VkError(5, "User authorization failed: invalid access_token (4)."));
        var adapter = await VkAdapterAsync(vk);
        var worker = await System.StartWorkerAsync<VkSender, VkConfig>("vk", adapter.ApiKey);

        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter, new { peerId = 1, message = "x" }), worker: worker);

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(1, job.Attempts);
        Assert.Equal("VK answered error 5: authorization failed.", job.LastError);
        Assert.Single(vk.Requests);
    }

    [Fact]
    public async Task a_job_redelivered_after_its_worker_was_killed_mid_send_carries_the_same_random_id()
    {
        await using var vk = await HttpPeer.StartAsync();
        var firstSendHeld = new TaskCompletionSource();
        var requests = 0;
        // The first send hangs in VK, so its worker is certainly mid-send when it is killed.
        vk.BeforeReply = (_, ct) => Interlocked.Increment(ref requests) == 1 ? firstSendHeld.Task.WaitAsync(ct) : Task.CompletedTask;
        vk.Reply = _ => new PeerReply(200, """{"response":99}""");
        var adapter = await VkAdapterAsync(vk);
        await using var victim = await WorkerProcess.StartAsync("NotificationService.Adapters.Vk", adapter.ApiKey, parallelism: 1);

        var offer = await System.CreateOfferAsync(System.Tenant, Offer(adapter, new { peerId = 42, message = "Your order shipped" }));
        var jobId = offer.Jobs[0].Id;
        await Eventually.Until(() => vk.Requests.Count == 1, what: "the first send to reach VK");
        await victim.KillAsync();
        await using var survivor = await WorkerProcess.StartAsync("NotificationService.Adapters.Vk", adapter.ApiKey, parallelism: 1);

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(60));
        firstSendHeld.TrySetResult();
        Assert.True(job.State == JobState.Finished, $"{job.State}\n{survivor.Output}");
        Assert.Equal(1, job.PossibleDuplicates);
        Assert.Equal(["JobQueued", "JobStarted", "JobPossibleDuplicate", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, jobId));
        var workers = (await System.GetJobEventsAsync(System.Tenant, jobId)).Where(e => e.Type == "JobStarted")
            .Select(e => int.Parse(((JsonElement)e.Data).GetProperty("worker").GetString()!.Split('-')[^2])).ToList();
        Assert.Equal([victim.Pid, survivor.Pid], workers);
        // VK saw the job twice with one random_id: the real VK drops the second as a resend of the first.
        var randomIds = vk.Requests.Select(r => Form(r)["random_id"]).ToList();
        Assert.Equal([VkSender.RandomId(jobId).ToString(), VkSender.RandomId(jobId).ToString()], randomIds);
    }

    [Fact]
    public async Task params_with_neither_or_both_of_peer_id_and_domain_are_a_422_that_names_them()
    {
        await using var vk = await HttpPeer.StartAsync();
        var adapter = await VkAdapterAsync(vk);

        foreach (var parameters in new object[] { new { message = "x" }, new { peerId = 1, domain = "durov", message = "x" } })
        {
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, Offer(adapter, parameters));
            Assert.Equal(422, status);
            Assert.True(problem.GetProperty("errors").TryGetProperty("targets[0].params", out var errors), problem.ToString());
            Assert.Equal("does not match exactly one allowed shape: peerId or domain, not both", errors[0].GetString());
        }
        var (fine, _) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, Offer(adapter, new { domain = "durov", message = "x" }));
        Assert.Equal(202, fine);
    }

    [Fact]
    public async Task the_adapter_types_list_offers_vk_and_its_token_is_a_secret_never_returned()
    {
        var types = await System.SendAsync<List<AdapterTypeView>>(HttpMethod.Get, "/admin/adapter-types", SystemFixture.AdminKey, expect: 200);
        var vkType = Assert.Single(types, t => t.Name == "vk");
        Assert.Equal(["accessToken"], vkType.SecretFields);

        await using var vk = await HttpPeer.StartAsync();
        var adapter = await VkAdapterAsync(vk);
        var view = await System.SendAsync<AdapterView>(HttpMethod.Get, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["accessToken"], view.SecretsSet);
        Assert.DoesNotContain(Token, view.Config.GetRawText());

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey,
            new { name = UniqueName(), type = "vk", config = new { accessToken = Token, apiBaseUrl = "ftp://api.vk.example/" } });
        Assert.Equal(422, status);
        Assert.Contains("http", problem.GetProperty("errors").GetProperty("config.apiBaseUrl")[0].GetString());
    }
}
