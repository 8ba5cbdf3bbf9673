using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// A write of an offer that was read before the retention sweep (or a test's reset) deleted it must fail,
/// not write the offer back: with optimistic concurrency Marten's Store is still an upsert, whose insert branch brings a
/// deleted offer back without its jobs. Most likely how a previous test's late fallback step once left a second offer in
/// the idempotency race test's count, after the reset.
/// </summary>
public sealed class when_an_offer_is_swept_while_a_change_waits(SystemFixture system) : IntegrationContext(system)
{
    public static TheoryData<string> Changes => ["PATCH", "DELETE", "erase"];

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task the_change_is_refused_and_the_offer_stays_deleted(string method)
    {
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "swept@example.test") },
            sendAt = DateTimeOffset.UtcNow.AddMinutes(10),
        });
        var jobId = offer.Jobs[0].Id;
        var store = System.Core.Services.GetRequiredService<IDocumentStore>();

        // The request reads the offer, then locks its jobs' streams one by one: holding the job's lock here makes it wait
        // between the two, with the offer already read.
        Task<(int Status, System.Text.Json.JsonElement Body)> change;
        var holder = store.LightweightSession();
        try
        {
            await holder.Events.FetchForExclusiveWriting<Job>(jobId);
            var holderPid = (await holder.QueryAsync<int>("select pg_backend_pid()"))[0];
            change = method switch
            {
                "PATCH" => System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, new { metadata = new { order = "42" } }),
                "DELETE" => System.SendForStatusAsync(HttpMethod.Delete, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey),
                _ => System.SendForStatusAsync(HttpMethod.Post, $"/v1/offers/{offer.Id}/erase", System.Tenant.ApiKey),
            };
            await Eventually.Until(() => Sql.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE {holderPid} = any(pg_blocking_pids(pid))"),
                waiting => waiting > 0, TimeSpan.FromSeconds(10), "the request to wait for the job's lock");

            // Meanwhile the offer's row goes, as a test's reset deletes it (the retention sweep does once the jobs are gone).
            await using var other = store.LightweightSession();
            other.Delete<Offer>(offer.Id);
            await other.SaveChangesAsync();
        }
        finally
        {
            await holder.DisposeAsync(); // releases the job's lock: the request goes on with the offer it read
        }

        var (status, problem) = await change;
        Assert.True(status == 409, $"{status}: {problem}");
        await using var session = store.QuerySession();
        Assert.Null(await session.LoadAsync<Offer>(offer.Id));
    }
}
