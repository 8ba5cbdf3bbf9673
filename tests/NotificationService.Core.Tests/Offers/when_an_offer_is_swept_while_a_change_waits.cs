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
    private IDocumentStore Store => System.Core.Services.GetRequiredService<IDocumentStore>();

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

        // The request reads the offer, then locks its jobs' streams one by one: holding the job's lock here makes it wait
        // between the two, with the offer already read.
        Task<(int Status, System.Text.Json.JsonElement Body)> change;
        var holder = Store.LightweightSession();
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
            await WaitUntilABackendWaitsForAsync(holderPid);

            // Meanwhile the offer's row goes, as a test's reset deletes it (the retention sweep does once the jobs are gone).
            await using var other = Store.LightweightSession();
            other.Delete<Offer>(offer.Id);
            await other.SaveChangesAsync();
        }
        finally
        {
            await holder.DisposeAsync(); // releases the job's lock: the request goes on with the offer it read
        }

        var (status, problem) = await change;
        Assert.True(status == 409, $"{status}: {problem}");
        await using var session = Store.QuerySession();
        Assert.Null(await session.LoadAsync<Offer>(offer.Id));
    }

    /// <summary>Until the request waits for the lock <paramref name="holderPid"/> holds (or 10 s).</summary>
    private async Task WaitUntilABackendWaitsForAsync(int holderPid)
    {
        await using var session = Store.QuerySession();
        for (var i = 0; i < 200; i++)
        {
            var waiting = await session.QueryAsync<int>(
                "select count(*)::int from pg_stat_activity where ? = any(pg_blocking_pids(pid))", holderPid);
            if (waiting[0] > 0) return;
            await Task.Delay(50);
        }
        Assert.Fail("The request never waited for the job's lock.");
    }
}
