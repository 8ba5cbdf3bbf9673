using System.Text.Json;
using NotificationService.Adapters.Avito;
using NotificationService.Core.Adapters;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Channels;

/// <summary>Avito end to end: offer -> core -> RabbitMQ -> a real worker host -> a local server speaking Avito's API.</summary>
public sealed class when_avito_delivers(SystemFixture system) : IntegrationContext(system)
{
    private const long UserId = 94235311;

    private static string UniqueName() => $"avito-{Guid.NewGuid():N}"[..20];

    private async Task<(RegisteredAdapter Adapter, Microsoft.AspNetCore.Builder.WebApplication Worker)> StartAsync(AvitoApi avito)
    {
        var adapter = await System.CreateAdapterAsync(UniqueName(), "avito",
            new { clientId = "client-1", clientSecret = "secret-1", userId = UserId, apiBaseUrl = avito.BaseUrl, allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<AvitoSender, AvitoConfig>("avito", adapter.ApiKey,
            settings: new Dictionary<string, string?> { ["Adapter:Parallelism"] = "4" });
        return (adapter, worker);
    }

    private static object Offer(string adapter, params string[] chatIds) =>
        new { targets = chatIds.Select(chatId => new { adapter, @params = new { chatId, text = $"Your order for {chatId} is ready" } }).ToArray() };

    [Fact]
    public async Task a_message_reaches_the_chat_with_a_bearer_token_and_avitos_message_id_is_recorded()
    {
        await using var avito = await AvitoApi.StartAsync();
        var (adapter, worker) = await StartAsync(avito);

        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter.Name, "u2i-N0yDM0DbA2u0DJ9SzVHzcg"), worker: worker);

        var jobId = offer.Jobs[0].Id;
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, jobId)).State);
        var form = global::System.Web.HttpUtility.ParseQueryString(Assert.Single(avito.TokenRequests).Body);
        Assert.Equal(("client-1", "secret-1", "client_credentials"), (form["client_id"], form["client_secret"], form["grant_type"]));
        var (send, status) = Assert.Single(avito.Sends);
        Assert.Equal(200, status);
        Assert.Equal($"/messenger/v1/accounts/{UserId}/chats/u2i-N0yDM0DbA2u0DJ9SzVHzcg/messages", send.Path);
        Assert.Equal("Bearer token-1", send.Headers["Authorization"]);
        var body = JsonDocument.Parse(send.Body).RootElement;
        Assert.Equal("text", body.GetProperty("type").GetString());
        Assert.Equal("Your order for u2i-N0yDM0DbA2u0DJ9SzVHzcg is ready", body.GetProperty("message").GetProperty("text").GetString());
        var finished = Assert.Single(await System.GetJobEventsAsync(System.Tenant, jobId), e => e.Type == "JobFinished");
        Assert.Equal("msg-1", ((JsonElement)finished.Data).GetProperty("providerMessageId").GetString());
    }

    [Fact]
    public async Task a_token_expiring_mid_run_is_refreshed_once_by_one_of_several_parallel_sends()
    {
        await using var avito = await AvitoApi.StartAsync();
        var (adapter, worker) = await StartAsync(avito);
        await System.DeliverOfferAsync(System.Tenant, Offer(adapter.Name, "u2i-first"), worker: worker); // the worker now holds token-1

        avito.Expire("token-1");
        var together = avito.HoldSendsTogether(4, TimeSpan.FromSeconds(20));
        var chats = Enumerable.Range(1, 8).Select(i => $"u2i-chat-{i}").ToArray();
        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter.Name, chats), deliveries: chats.Length, worker: worker);

        await together; // four sends were with Avito at once, all carrying the token it had just stopped taking
        Assert.Equal(2, avito.TokenRequests.Count);
        var sends = avito.Sends.Skip(1).ToList();
        Assert.Equal(4, sends.Count(s => s.Status == 401 && s.Request.Headers["Authorization"] == "Bearer token-1"));
        Assert.Equal(chats.Length, sends.Count(s => s.Status == 200 && s.Request.Headers["Authorization"] == "Bearer token-2"));
        foreach (var job in offer.Jobs)
        {
            var view = await System.GetJobAsync(System.Tenant, job.Id);
            Assert.Equal((JobState.Finished, 1), (view.State, view.Attempts)); // the refresh and resend were inside the attempt
        }
    }

    [Fact]
    public async Task bad_client_credentials_fail_the_job_at_once()
    {
        await using var avito = await AvitoApi.StartAsync();
        avito.TokenReply = new PeerReply(400, """{"error":"invalid_client","error_description":"invalid client id or secret"}""");
        var (adapter, worker) = await StartAsync(avito);

        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter.Name, "u2i-abc"), worker: worker);

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal((JobState.Failed, 1), (job.State, job.Attempts));
        Assert.Equal("Avito refused the client credentials: its token endpoint answered HTTP 400.", job.LastError);
        Assert.Single(avito.TokenRequests);
        Assert.Empty(avito.Sends);
    }

    [Fact]
    public async Task a_throttled_send_is_retried_after_avitos_retry_after_and_delivered()
    {
        await using var avito = await AvitoApi.StartAsync();
        avito.ReplyToNextSendWith(new PeerReply(429, """{"error":{"code":429,"message":"Too Many Requests"}}""", new Dictionary<string, string> { ["Retry-After"] = "1" }));
        var (adapter, worker) = await StartAsync(avito);

        var offer = await System.DeliverOfferAsync(System.Tenant, Offer(adapter.Name, "u2i-abc"), deliveries: 2, worker: worker); // throttled, then its retry

        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal((JobState.Finished, 2), (job.State, job.Attempts));
        Assert.Equal("The provider answered HTTP 429 Too Many Requests.", job.LastError);
        var sends = avito.Sends.ToArray();
        Assert.Equal([429, 200], sends.Select(s => s.Status));
        Assert.True(sends[1].Request.At - sends[0].Request.At >= TimeSpan.FromSeconds(0.9), "the retry honoured Retry-After");
        Assert.Single(avito.TokenRequests); // the worker's token outlived the wait
    }

    [Fact]
    public async Task the_admin_api_offers_the_type_and_checks_its_config()
    {
        var types = await System.SendAsync<List<AdapterTypeView>>(HttpMethod.Get, "/admin/adapter-types", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["clientSecret"], Assert.Single(types, t => t.Name == "avito").SecretFields);

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name = UniqueName(), type = "avito",
            config = new { clientId = "c", clientSecret = "s", userId = "not-a-number", apiBaseUrl = "ftp://api.avito.example/" },
        });
        Assert.True(status == 422, $"{status} {problem}");
        foreach (var field in new[] { "config.userId", "config.apiBaseUrl" })
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{field} missing in {problem}");

        var adapter = await System.CreateAdapterAsync(UniqueName(), "avito", new { clientId = "c", clientSecret = "s", userId = UserId });
        var (refused, offerProblem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { new { adapter = adapter.Name, @params = new { chatId = "", text = new string('x', 1001) } } } });
        Assert.True(refused == 422, $"{refused} {offerProblem}");
        Assert.Contains("chatId", offerProblem.ToString());
        Assert.Contains("text", offerProblem.ToString());
    }
}
