using Microsoft.Extensions.DependencyInjection;
using NotificationService.Client;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Client;

/// <summary>The client library's job search and offer metadata filters against the real core (run after merging i12-search).</summary>
public sealed class when_a_service_searches_with_the_client(SystemFixture system) : IntegrationContext(system), IDisposable
{
    private readonly ServiceProvider _provider = Provider(system);

    private static ServiceProvider Provider(SystemFixture system)
    {
        var services = new ServiceCollection();
        services.AddNotificationClient(o => (o.BaseAddress, o.ApiKey) = (system.Core.Server.BaseAddress, system.Tenant.ApiKey))
            .ConfigurePrimaryHttpMessageHandler(() => system.Core.Server.CreateHandler());
        return services.BuildServiceProvider();
    }

    private NotificationClient Client => _provider.GetRequiredService<NotificationClient>();

    private Task<OfferAccepted> SendAsync(string to, string order) =>
        Client.CreateOfferAsync(new CreateOfferRequest([new OfferTarget(System.Email.Name, new { to, subject = "Hi", text = "Searched" })])
        {
            Metadata = new Dictionary<string, string> { ["order"] = order, ["tier"] = "gold & silver" },
        });

    [Fact]
    public async Task jobs_are_found_by_metadata_state_and_time_page_by_page()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var offers = new List<OfferAccepted>();
        for (var i = 0; i < 5; i++) offers.Add(await SendAsync($"search-{i}@example.test", i < 3 ? "A-1" : "B-2"));
        foreach (var offer in offers)
            await Eventually.Until(() => Client.GetJobAsync(offer.Jobs[0].Id), j => j.IsFinal, what: "the job to end");

        var firstPage = await Client.SearchJobsAsync(new JobSearch
        {
            Metadata = new Dictionary<string, string> { ["order"] = "A-1", ["tier"] = "gold & silver" }, Limit = 2,
            State = JobState.Finished, Adapter = System.Email.Name, CreatedFrom = before, CreatedTo = DateTimeOffset.UtcNow.AddMinutes(1),
        });
        Assert.Equal(2, firstPage.Items.Count);
        Assert.NotNull(firstPage.Next);

        var all = new List<JobView>();
        await foreach (var job in Client.SearchAllJobsAsync(new JobSearch { Metadata = new Dictionary<string, string> { ["order"] = "A-1" }, Limit = 2 }))
            all.Add(job);
        Assert.Equal(offers.Take(3).Select(o => o.Jobs[0].Id).Reverse(), all.Select(j => j.Id)); // newest first
        Assert.Equal(offers[4].Jobs[0].Id, Assert.Single((await Client.SearchJobsAsync(new JobSearch { OfferId = offers[4].Id })).Items).Id);

        var listed = await Client.ListOffersAsync(metadata: new Dictionary<string, string> { ["order"] = "B-2" });
        Assert.Equal(offers.Skip(3).Select(o => o.Id).Reverse(), listed.Items.Select(o => o.Id));
    }

    [Fact]
    public async Task a_bad_search_value_names_its_field()
    {
        var error = await Assert.ThrowsAsync<NotificationApiException>(() => Client.SearchJobsAsync(new JobSearch { Limit = 500 }));
        Assert.Equal(422, error.Status);
        Assert.Contains("limit", error.Errors.Keys);

        var cursor = await Assert.ThrowsAsync<NotificationApiException>(() => Client.SearchJobsAsync(new JobSearch { Cursor = "not-a-cursor" }));
        Assert.Equal(422, cursor.Status);
        Assert.Contains("cursor", cursor.Errors.Keys);
    }

    public void Dispose() => _provider.Dispose();
}
