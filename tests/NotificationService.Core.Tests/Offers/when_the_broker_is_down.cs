using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_the_broker_is_down(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task an_accepted_offer_waits_in_the_outbox_and_is_delivered_after_the_broker_returns()
    {
        Guid jobId;
        await TestEnvironment.RabbitMqCtlAsync("stop_app");
        try
        {
            var offer = await System.CreateOfferAsync(System.Tenant,
                new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "outage@example.test") } });
            jobId = Assert.Single(offer.Jobs).Id;

            // A fixed wait, as what it shows is something NOT happening: the outbox sends at once after the commit, so in
            // 2 s a delivery that got past the stopped broker would have started; none may have.
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Equal(JobState.Queued, (await System.GetJobAsync(System.Tenant, jobId)).State);
            Assert.Empty(System.Smtp.To("outage@example.test"));
        }
        finally
        {
            await TestEnvironment.RabbitMqCtlAsync("start_app");
        }

        var job = await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(90));
        Assert.Equal(JobState.Finished, job.State);
        Assert.Single(System.Smtp.To("outage@example.test"));
    }
}
