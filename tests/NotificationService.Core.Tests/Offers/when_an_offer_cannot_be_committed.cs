using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Contracts;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Wolverine.Tracking;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_an_offer_cannot_be_committed(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>
    /// A trigger makes the last write of the offer's transaction (its idempotency record) fail inside PostgreSQL, after
    /// the offer, the job streams and the outbox rows were written: none of them may remain, and nothing may be sent.
    /// </summary>
    [Fact]
    public async Task nothing_of_it_is_stored_or_sent()
    {
        await Sql.ExecuteAsync("""
            CREATE OR REPLACE FUNCTION ns.fail_offer_commit() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_offer_commit BEFORE INSERT ON ns.mt_doc_idempotentrequest
              FOR EACH ROW WHEN (NEW.id LIKE '%:doomed') EXECUTE FUNCTION ns.fail_offer_commit();
            """);
        ITrackedSession tracked;
        try
        {
            // Tracked: once the request's activity has all ended, the session shows that nothing was sent to a worker.
            tracked = await System.Core.TrackActivity().AlsoTrack(System.EmailWorker).Timeout(TimeSpan.FromSeconds(30)).ExecuteAndWaitAsync(_ =>
                System.Core.Scenario(s =>
                {
                    s.Post.Json(new { targets = new[]
                    {
                        ClientApi.EmailTarget(System.Email.Name, "doomed1@example.test"),
                        ClientApi.EmailTarget(System.Email.Name, "doomed2@example.test"),
                    } }).ToUrl("/v1/offers");
                    s.WithRequestHeader("Authorization", $"Bearer {System.Tenant.ApiKey}");
                    s.WithRequestHeader("Idempotency-Key", "doomed");
                    s.StatusCodeShouldBe(500);
                }));
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER fail_offer_commit ON ns.mt_doc_idempotentrequest; DROP FUNCTION ns.fail_offer_commit();");
        }
        // The core's only: a worker's retry an earlier test left scheduled may be sent during the session.
        Assert.Empty(System.SentByCore<DeliverJob>(tracked));

        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Equal(0, await session.Query<Offer>().CountAsync());
        Assert.Equal(0, await session.Query<Job>().CountAsync());
        // Job events only (Marten also writes "tombstone" events into the sequence numbers a failed transaction used).
        Assert.Equal(0L, await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_events WHERE type LIKE 'job_%'"));
        Assert.Equal(0L, await Sql.ScalarAsync<long>("SELECT count(*) FROM wolverine.wolverine_outgoing_envelopes"));
        Assert.Empty(System.Smtp.Received);
    }
}
