using System.Text.Json;
using NotificationService.Contracts;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Offers;

public sealed class when_an_offer_is_changed_or_deleted(SystemFixture system) : IntegrationContext(system)
{
    private async Task<Guid> ScheduledOfferAsync(string to, int seconds = 60) =>
        (await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, to) },
            sendAt = DateTimeOffset.UtcNow.AddSeconds(seconds),
        })).Id;

    [Fact]
    public async Task a_scheduled_jobs_params_and_send_time_can_change_and_the_new_values_are_delivered()
    {
        var offerId = await ScheduledOfferAsync("before@example.test");
        var offer = await System.SendAsync<NotificationService.Core.Offers.OfferView>(HttpMethod.Get, $"/v1/offers/{offerId}", System.Tenant.ApiKey, expect: 200);
        var jobId = offer.Jobs[0].Id;

        var (status, updated) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offerId}", System.Tenant.ApiKey, new
        {
            sendAt = DateTimeOffset.UtcNow.AddSeconds(2),
            metadata = new Dictionary<string, string> { ["order"] = "42" },
            jobs = new[] { new { id = jobId, @params = new { to = "after@example.test", subject = "Changed", text = "New text" } } },
        });
        Assert.Equal(200, status);
        Assert.Equal("after@example.test", updated.GetProperty("jobs")[0].GetProperty("params").GetProperty("to").GetString());
        Assert.Equal("42", updated.GetProperty("metadata").GetProperty("order").GetString());

        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId, TimeSpan.FromSeconds(30))).State);
        Assert.Equal("Changed", Assert.Single(System.Smtp.To("after@example.test")).Subject);
        Assert.Empty(System.Smtp.To("before@example.test"));
        Assert.Equal(["JobScheduled", "JobRescheduled", "JobParamsUpdated", "JobQueued", "JobStarted", "JobFinished"],
            await System.EventTypesAsync(System.Tenant, jobId));
    }

    [Fact]
    public async Task an_expiry_given_with_an_offset_is_kept_as_the_same_instant_in_utc()
    {
        // The job's expiry is a timestamptz column too (NotificationStore), which Npgsql writes only from a UTC time: the
        // projection keeps it in UTC, so a client's +03:00 or -05:00 is the same instant on create and on PATCH, not a 500.
        var expireAt = DateTimeOffset.UtcNow.AddMinutes(30).ToOffset(TimeSpan.FromHours(3));
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "offset@example.test") },
            sendAt = DateTimeOffset.UtcNow.AddSeconds(60),
            expireAt = expireAt.ToString("O"),
        });
        var job = await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id);
        Assert.Equal((expireAt, TimeSpan.Zero), (job.ExpireAt!.Value, job.ExpireAt.Value.Offset));

        var later = expireAt.AddMinutes(10).ToOffset(TimeSpan.FromHours(-5));
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, new { expireAt = later.ToString("O") });
        Assert.True(status == 200, problem.ToString());
        Assert.Equal(later, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).ExpireAt);
    }

    [Fact]
    public async Task params_that_break_the_schema_are_refused_with_their_path()
    {
        var offerId = await ScheduledOfferAsync("x@example.test");
        var offer = await System.SendAsync<NotificationService.Core.Offers.OfferView>(HttpMethod.Get, $"/v1/offers/{offerId}", System.Tenant.ApiKey, expect: 200);

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offerId}", System.Tenant.ApiKey, new
        {
            jobs = new[] { new { id = offer.Jobs[0].Id, @params = new { to = "x@example.test" } } },
        });
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("jobs[0].params.subject", out _), problem.ToString());
    }

    [Fact]
    public async Task metadata_is_merge_patched_absent_keys_stay_and_null_removes_one()
    {
        var metadata = Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", i => $"v{i}");
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "meta@example.test") },
            sendAt = DateTimeOffset.UtcNow.AddSeconds(60), metadata,
        });

        var (status, updated) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey,
            new { metadata = new Dictionary<string, string?> { ["k0"] = "changed", ["k1"] = null } });
        Assert.Equal(200, status);
        var merged = updated.GetProperty("metadata").Deserialize<Dictionary<string, string>>()!;
        Assert.Equal(49, merged.Count);
        Assert.Equal(("changed", "v2"), (merged["k0"], merged["k2"]));
        Assert.False(merged.ContainsKey("k1"));
        var stored = await System.SendAsync<NotificationService.Core.Offers.OfferView>(HttpMethod.Get, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(merged, stored.Metadata);

        // The limit holds for the merged metadata, not only for what one request sends.
        var (tooMany, problem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey,
            new { metadata = new Dictionary<string, string> { ["new1"] = "x", ["new2"] = "y" } });
        Assert.Equal(422, tooMany);
        Assert.True(problem.GetProperty("errors").TryGetProperty("metadata", out _), problem.ToString());
    }

    [Fact]
    public async Task nothing_about_a_started_job_can_change()
    {
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "sent@example.test") } });
        await System.WaitForStateAsync(System.Tenant, offer.Jobs[0].Id, JobState.Finished);

        var (status, _) = await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, new
        {
            jobs = new[] { new { id = offer.Jobs[0].Id, @params = new { to = "other@example.test", subject = "s", text = "t" } } },
        });
        Assert.Equal(409, status);
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey,
            new { expireAt = DateTimeOffset.UtcNow.AddHours(1) })).Status);
    }

    [Fact]
    public async Task deleting_an_offer_cancels_its_unfinished_jobs_and_keeps_its_history()
    {
        // Created and deleted inside the tracked session, so the session sees the job's scheduled message fire at the
        // original send time however long the requests take: it must find the job canceled, and nothing goes to the worker.
        OfferAccepted? created = null;
        (int Status, JsonElement Body) deleted = default;
        var fired = await System.TrackAsync(async () =>
        {
            created = await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, "deleted@example.test") },
                sendAt = DateTimeOffset.UtcNow.AddSeconds(3),
            });
            deleted = await System.SendForStatusAsync(HttpMethod.Delete, $"/v1/offers/{created.Id}", System.Tenant.ApiKey);
        }, new Handled<QueueScheduledJob>(m => m.JobId == created?.Jobs[0].Id));
        var (offerId, jobId) = (created!.Id, created.Jobs[0].Id);
        Assert.Equal(202, deleted.Status);
        Assert.Equal(jobId, deleted.Body.GetProperty("jobs")[0].GetProperty("id").GetGuid());
        Assert.Equal("Canceled", deleted.Body.GetProperty("jobs")[0].GetProperty("state").GetString());
        // This job's only: a retry an earlier test left scheduled may be sent during the session.
        Assert.DoesNotContain(fired.Sent.MessagesOf<DeliverJob>(), m => m.JobId == jobId);

        var offer = await System.SendAsync<NotificationService.Core.Offers.OfferView>(HttpMethod.Get, $"/v1/offers/{offerId}", System.Tenant.ApiKey, expect: 200);
        Assert.NotNull(offer.DeletedAt);
        Assert.Equal(JobState.Canceled, offer.Jobs[0].State);
        Assert.Empty(System.Smtp.To("deleted@example.test"));
        Assert.Equal(["JobScheduled", "JobCancellationRequested", "JobCanceled"], await System.EventTypesAsync(System.Tenant, jobId));
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offerId}", System.Tenant.ApiKey, new { metadata = new { a = "b" } })).Status);
    }

    [Fact]
    public async Task another_service_cannot_read_change_or_delete_the_offer()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        var offerId = await ScheduledOfferAsync("mine@example.test");

        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/offers/{offerId}", other.ApiKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{offerId}", other.ApiKey, new { metadata = new { a = "b" } })).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Delete, $"/v1/offers/{offerId}", other.ApiKey)).Status);
        var list = await System.SendAsync<NotificationService.Core.Infrastructure.PagedResult<NotificationService.Core.Offers.OfferSummary>>(HttpMethod.Get, "/v1/offers", other.ApiKey, expect: 200);
        Assert.Empty(list.Items);

        var mine = await System.SendAsync<NotificationService.Core.Infrastructure.PagedResult<NotificationService.Core.Offers.OfferSummary>>(HttpMethod.Get, "/v1/offers?pageSize=10", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(offerId, Assert.Single(mine.Items).Id);
    }
}
