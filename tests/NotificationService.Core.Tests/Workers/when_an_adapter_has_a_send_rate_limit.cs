using NotificationService.Adapters.Webhook;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

public sealed class when_an_adapter_has_a_send_rate_limit(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task two_workers_together_send_no_faster_than_the_limit_and_within_ten_percent_of_it()
    {
        const double limit = 10;
        const int jobs = 40;
        await using var receiver = await HttpPeer.StartAsync();
        var adapter = await System.CreateAdapterAsync($"limited-{Guid.NewGuid():N}"[..22], "webhook",
            new { url = receiver.BaseUrl, secret = "rate-limit-secret-123456", allowPrivateNetwork = true }, policy: new { rateLimitPerSecond = limit });
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);
        await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey);

        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = Enumerable.Range(0, jobs).Select(i => new { adapter = adapter.Name, @params = new { payload = new { i } } }).ToArray(),
        });
        foreach (var job in offer.Jobs) Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, job.Id, TimeSpan.FromSeconds(30))).State);

        var times = receiver.Requests.Select(r => r.At).Order().ToList();
        Assert.Equal(jobs, times.Count);
        var rate = (jobs - 1) / (times[^1] - times[0]).TotalSeconds;
        Assert.InRange(rate, limit * 0.9, limit * 1.1);
    }
}
