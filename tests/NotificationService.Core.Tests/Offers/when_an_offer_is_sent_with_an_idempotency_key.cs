using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Contracts;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_an_offer_is_sent_with_an_idempotency_key(SystemFixture system) : IntegrationContext(system)
{
    private Task<(int Status, JsonElement Body)> PostAsync(object offer, string key) => PostAsync(System.Tenant, offer, key);

    private async Task<(int Status, JsonElement Body)> PostAsync(Tenant tenant, object offer, string key)
    {
        var response = await System.ScenarioAsync(HttpMethod.Post, "/v1/offers", tenant.ApiKey, offer, also: s => s.WithRequestHeader("Idempotency-Key", key));
        return (response.Context.Response.StatusCode, await SystemFixture.BodyOf(response));
    }

    private object Offer(string to) => new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, to) } };

    [Fact]
    public async Task a_retried_post_returns_the_first_response_and_creates_nothing_new()
    {
        (int Status, JsonElement Body) first = default, retry = default;
        var jobId = Guid.Empty;
        // Tracked until the worker has handled the one delivery: the retried POST must not have sent another.
        var tracked = await System.TrackAsync(async () =>
        {
            first = await PostAsync(Offer("once@example.test"), "order-42");
            retry = await PostAsync(Offer("once@example.test"), "order-42");
            jobId = first.Body.GetProperty("jobs")[0].GetProperty("id").GetGuid();
        }, new Handled<DeliverJob>(m => m.JobId == jobId));
        // The core's only: a worker's retry an earlier test left scheduled may be sent during the session.
        Assert.Single(System.SentByCore<DeliverJob>(tracked));

        Assert.Equal(202, first.Status);
        Assert.Equal(202, retry.Status);
        Assert.Equal(first.Body.GetProperty("id").GetGuid(), retry.Body.GetProperty("id").GetGuid());
        Assert.Equal(first.Body.GetProperty("jobs")[0].GetProperty("id").GetGuid(), retry.Body.GetProperty("jobs")[0].GetProperty("id").GetGuid());

        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, jobId)).State);
        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Equal(1, await session.Query<Offer>().CountAsync());
        Assert.Equal(1, await session.Query<Job>().CountAsync());
        Assert.Single(System.Smtp.To("once@example.test"));
    }

    [Fact]
    public async Task the_same_key_with_a_different_body_is_refused()
    {
        Assert.Equal(202, (await PostAsync(Offer("a@example.test"), "order-43")).Status);
        var (status, problem) = await PostAsync(Offer("b@example.test"), "order-43");

        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
    }

    [Fact]
    public async Task concurrent_duplicates_create_exactly_one_offer()
    {
        // A tenant of its own, whose offers only this race creates: CI twice counted 2 offers in the whole table where the
        // race's responses named one, and a search for the other writer found none (2026-12-02, 2026-12-03).
        var racer = await System.CreateTenantAsync($"racer-{Guid.NewGuid():N}");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostAsync(racer, Offer("race@example.test"), "order-44")));

        Assert.All(results, r => Assert.Contains(r.Status, new[] { 202, 409 }));
        var ids = results.Where(r => r.Status == 202).Select(r => r.Body.GetProperty("id").GetGuid()).Distinct().ToList();
        Assert.Single(ids);
        await using var session = System.Core.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Equal(ids, await session.Query<Offer>().Where(o => o.ServiceId == racer.Id).Select(o => o.Id).ToListAsync());
        Assert.Equal(1, await session.Query<Job>().CountAsync(j => j.ServiceId == racer.Id));
    }

    [Fact]
    public async Task keys_are_per_service()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        var mine = await PostAsync(Offer("mine@example.test"), "shared-key");
        var (status, theirs) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", other.ApiKey, Offer("mine@example.test"));

        Assert.Equal(202, mine.Status);
        Assert.Equal(202, status);
        Assert.NotEqual(mine.Body.GetProperty("id").GetGuid(), theirs.GetProperty("id").GetGuid());
    }
}
