using System.Text.Json;
using NotificationService.Core.Callbacks;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Callbacks;

public sealed class when_callbacks_are_managed(SystemFixture system) : IntegrationContext(system)
{
    private async Task AssertInvalidAsync(HttpMethod method, string url, string key, object? body, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(method, url, key, body);
        Assert.True(status == 422, $"{method} {url} {JsonSerializer.Serialize(body)}: {status} {problem}");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}': {problem}");
    }

    [Theory]
    [InlineData(null, "url")]
    [InlineData("not a url", "url")]
    [InlineData("ftp://example.test/hook", "url")]
    [InlineData("/relative/hook", "url")]
    [InlineData("https://user:pass@example.test/hook", "url")]
    public async Task a_bad_url_is_a_422_naming_it(string? url, string field) =>
        await AssertInvalidAsync(HttpMethod.Post, "/v1/callbacks", System.Tenant.ApiKey, new { url }, field);

    [Fact]
    public async Task bad_events_a_too_long_url_and_an_eleventh_callback_are_422s()
    {
        await AssertInvalidAsync(HttpMethod.Post, "/v1/callbacks", System.Tenant.ApiKey, new { url = "https://example.test/h", events = new[] { "started", "delivered" } }, "events");
        await AssertInvalidAsync(HttpMethod.Post, "/v1/callbacks", System.Tenant.ApiKey, new { url = "https://example.test/h", events = Array.Empty<string>() }, "events");
        await AssertInvalidAsync(HttpMethod.Post, "/v1/callbacks", System.Tenant.ApiKey, new { url = "https://example.test/" + new string('a', 2000) }, "url");
        for (var i = 0; i < 10; i++) await System.CreateCallbackAsync(System.Tenant, $"https://example.test/{i}");
        await AssertInvalidAsync(HttpMethod.Post, "/v1/callbacks", System.Tenant.ApiKey, new { url = "https://example.test/11" }, "url");
        Assert.Equal(10, (await System.SendAsync<List<CallbackState>>(HttpMethod.Get, "/v1/callbacks", System.Tenant.ApiKey, expect: 200)).Count);
    }

    [Fact]
    public async Task an_offers_callback_url_needs_a_registered_callback_and_a_valid_url()
    {
        var target = new[] { ClientApi.EmailTarget(System.Email.Name, "x@example.test") };
        await AssertInvalidAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new { targets = target, callbackUrl = "https://example.test/h" }, "callbackUrl");
        await System.CreateCallbackAsync(System.Tenant, "https://example.test/registered");
        await AssertInvalidAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new { targets = target, callbackUrl = "mailto:x@example.test" }, "callbackUrl");
        await System.CreateOfferAsync(System.Tenant, new { targets = target, callbackUrl = "https://example.test/this-offer" });
    }

    [Fact]
    public async Task a_bad_deliveries_page_request_is_a_422_naming_the_parameter()
    {
        var callback = await System.CreateCallbackAsync(System.Tenant, "https://example.test/h");
        await AssertInvalidAsync(HttpMethod.Get, $"/v1/callbacks/{callback.Id}/deliveries?limit=0", System.Tenant.ApiKey, null, "limit");
        await AssertInvalidAsync(HttpMethod.Get, $"/v1/callbacks/{callback.Id}/deliveries?limit=201", System.Tenant.ApiKey, null, "limit");
        await AssertInvalidAsync(HttpMethod.Get, $"/v1/callbacks/{callback.Id}/deliveries?cursor=garbage", System.Tenant.ApiKey, null, "cursor");
        Assert.Empty((await System.GetDeliveriesAsync(System.Tenant, callback.Id)).Items);
    }

    [Fact]
    public async Task another_services_callback_is_a_404_everywhere()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}"[..20]);
        var theirs = await System.CreateCallbackAsync(other, "https://example.test/theirs");
        foreach (var (method, url) in new[]
                 {
                     (HttpMethod.Get, $"/v1/callbacks/{theirs.Id}"), (HttpMethod.Get, $"/v1/callbacks/{theirs.Id}/deliveries"),
                     (HttpMethod.Post, $"/v1/callbacks/{theirs.Id}/enable"), (HttpMethod.Delete, $"/v1/callbacks/{theirs.Id}"),
                     (HttpMethod.Get, $"/v1/callbacks/{Guid.NewGuid()}"),
                 })
            Assert.Equal(404, (await System.SendForStatusAsync(method, url, System.Tenant.ApiKey)).Status);
        Assert.DoesNotContain((await System.SendAsync<List<CallbackState>>(HttpMethod.Get, "/v1/callbacks", System.Tenant.ApiKey, expect: 200)), c => c.Id == theirs.Id);
        // The admin names the service: the wrong one is a 404 too.
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/services/{System.Tenant.Id}/callbacks/{theirs.Id}", SystemFixture.AdminKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/services/{Guid.NewGuid()}/callbacks", SystemFixture.AdminKey)).Status);
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/callbacks/{theirs.Id}", other.ApiKey)).Status);
    }

    [Fact]
    public async Task an_admin_manages_a_services_callbacks()
    {
        var created = await System.SendAsync<CreatedCallback>(HttpMethod.Post, $"/admin/services/{System.Tenant.Id}/callbacks", SystemFixture.AdminKey,
            new { url = "https://example.test/by-admin", events = new[] { "failed" } }, expect: 201);
        Assert.StartsWith("nscb_", created.Secret);
        var listed = await System.SendAsync<List<CallbackState>>(HttpMethod.Get, $"/admin/services/{System.Tenant.Id}/callbacks", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["failed"], listed.Single().Events);
        Assert.Equal(created.Id, (await System.GetCallbackAsync(System.Tenant, created.Id)).Id); // the service sees it as its own
        var enabled = await System.SendAsync<CallbackState>(HttpMethod.Post, $"/admin/services/{System.Tenant.Id}/callbacks/{created.Id}/enable", SystemFixture.AdminKey, expect: 200);
        Assert.True(enabled.Enabled);
        Assert.Equal(204, (await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/services/{System.Tenant.Id}/callbacks/{created.Id}", SystemFixture.AdminKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/callbacks/{created.Id}", System.Tenant.ApiKey)).Status);
        // A service key may not use the admin routes.
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/services/{System.Tenant.Id}/callbacks", System.Tenant.ApiKey)).Status);
    }

    [Fact]
    public async Task deleting_a_callback_stops_its_pending_deliveries()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.Reply = _ => new PeerReply(500, "{}"); // failing throughout: every attempt leaves a retry behind
        // The first attempt is held at the peer until the callback is deleted: it is the one in flight at the delete, and
        // every later attempt (each parked by the one before it ended) starts after the delete.
        var firstArrived = new TaskCompletionSource();
        var deleted = new TaskCompletionSource();
        peer.BeforeReply = (_, cancellation) =>
        {
            firstArrived.TrySetResult();
            return deleted.Task.WaitAsync(cancellation);
        };
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl, ["finished"]);
        await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "deleted@example.test") } });
        await firstArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Tracked until the retry the first attempt parked has been handled: it started after the delete and must find the callback gone.
        var retried = new Handled<DeliverCallback>(m => m.CallbackId == callback.Id, armed: false);
        await System.TrackAsync(async () =>
        {
            Assert.Equal(204, (await System.SendForStatusAsync(HttpMethod.Delete, $"/v1/callbacks/{callback.Id}", System.Tenant.ApiKey)).Status);
            retried.Arm();
            deleted.SetResult(); // the first attempt fails now and parks the retry
        }, retried);
        var sentAfterDelete = peer.Requests.Count - 1; // all but the held first attempt
        Assert.True(sentAfterDelete == 0, $"{sentAfterDelete} requests sent to the deleted callback");
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/callbacks/{callback.Id}", System.Tenant.ApiKey)).Status);
    }

    [Fact]
    public async Task an_enable_that_read_the_callback_before_it_was_deleted_does_not_bring_it_back()
    {
        var callback = await System.CreateCallbackAsync(System.Tenant, "https://example.test/enable-race");
        // The delete's transaction holds the callback's row, so the enable, which read the callback already, waits for
        // it at its write; the delete then commits under it.
        await using var connection = new Npgsql.NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var delete = await connection.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand($"SELECT 1 FROM ns.mt_doc_callbackendpoint WHERE id = '{callback.Id}' FOR UPDATE", connection, delete))
            await hold.ExecuteNonQueryAsync();
        var enable = System.SendForStatusAsync(HttpMethod.Post, $"/v1/callbacks/{callback.Id}/enable", System.Tenant.ApiKey);
        await Eventually.Until(() => Sql.ScalarAsync<long>(
                $"SELECT count(*) FROM pg_stat_activity WHERE {connection.ProcessID} = any(pg_blocking_pids(pid))"),
            waiting => waiting > 0, TimeSpan.FromSeconds(10), "the enable to wait for the callback's row");
        await using (var remove = new Npgsql.NpgsqlCommand($"DELETE FROM ns.mt_doc_callbackendpoint WHERE id = '{callback.Id}'", connection, delete))
            await remove.ExecuteNonQueryAsync();
        await delete.CommitAsync();

        var (status, body) = await enable;
        Assert.True(status == 409, $"{status}: {body}"); // as for a concurrent change: a retry finds it gone
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/callbacks/{callback.Id}", System.Tenant.ApiKey)).Status);
    }
}
