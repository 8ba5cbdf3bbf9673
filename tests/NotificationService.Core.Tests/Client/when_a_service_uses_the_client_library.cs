using Microsoft.Extensions.DependencyInjection;
using NotificationService.Client;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Client;

/// <summary>
/// The .NET client library against the real core (its handler is the Alba host's, everything behind it real: PostgreSQL,
/// RabbitMQ, the email worker, the SMTP sink), registered as a client service would register it.
/// </summary>
public sealed class when_a_service_uses_the_client_library(SystemFixture system) : IntegrationContext(system), IDisposable
{
    private readonly List<ServiceProvider> _providers = [];

    /// <summary>The clients as AddNotificationClient/AddNotificationAdminClient build them, sending to the test server.</summary>
    private (NotificationClient Client, NotificationAdminClient Admin) Clients(string? serviceKey)
    {
        var services = new ServiceCollection();
        services.AddNotificationClient(o => (o.BaseAddress, o.ApiKey) = (System.Core.Server.BaseAddress, serviceKey))
            .ConfigurePrimaryHttpMessageHandler(() => System.Core.Server.CreateHandler());
        services.AddNotificationAdminClient(o => (o.BaseAddress, o.ApiKey) = (System.Core.Server.BaseAddress, SystemFixture.AdminKey))
            .ConfigurePrimaryHttpMessageHandler(() => System.Core.Server.CreateHandler());
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return (provider.GetRequiredService<NotificationClient>(), provider.GetRequiredService<NotificationAdminClient>());
    }

    private NotificationClient Client => Clients(System.Tenant.ApiKey).Client;

    private CreateOfferRequest Offer(string to) =>
        new([new OfferTarget(System.Email.Name, new { to, subject = "Hello", text = "Sent with the client library" })]);

    private static Task<JobView> WaitForFinalAsync(NotificationClient client, Guid jobId) =>
        Eventually.Until(() => client.GetJobAsync(jobId), job => job.IsFinal, what: $"job {jobId} to end");

    [Fact]
    public async Task an_offer_is_sent_followed_changed_and_deleted()
    {
        var client = Client;
        var accepted = await client.CreateOfferAsync(Offer("client@example.test") with
        {
            Metadata = new Dictionary<string, string> { ["order"] = "42", ["region"] = "eu" },
        });
        var jobId = Assert.Single(accepted.Jobs).Id;
        Assert.Equal(JobState.Queued, accepted.Jobs[0].State);

        var job = await WaitForFinalAsync(client, jobId);
        Assert.Equal(JobState.Finished, job.State);
        Assert.Equal(accepted.Id, job.OfferId);
        Assert.Equal("client@example.test", job.Params.GetProperty("to").GetString());
        Assert.Single(System.Smtp.To("client@example.test"));
        Assert.Equal(["JobQueued", "JobStarted", "JobFinished"], (await client.GetJobEventsAsync(jobId)).Select(e => e.Type));

        var listed = await client.ListOffersAsync(page: 1, pageSize: 10);
        Assert.Equal(accepted.Id, Assert.Single(listed.Items).Id);
        Assert.Equal(1, listed.Total);

        // Metadata is a merge patch: a key set to null goes, one left out stays.
        var changed = await client.UpdateOfferAsync(accepted.Id, new UpdateOfferRequest
        {
            Metadata = new Dictionary<string, string?> { ["region"] = null, ["customer"] = "c-7" },
        });
        Assert.Equal(new Dictionary<string, string> { ["order"] = "42", ["customer"] = "c-7" }, changed.Metadata);
        Assert.Equal(JobState.Finished, Assert.Single(changed.Jobs).State);

        var conflict = await Assert.ThrowsAsync<NotificationApiException>(() => client.CancelJobAsync(jobId));
        Assert.Equal(409, conflict.Status);

        var deleted = await client.DeleteOfferAsync(accepted.Id);
        Assert.Equal(JobState.Finished, Assert.Single(deleted.Jobs).State);
        Assert.NotNull((await client.GetOfferAsync(accepted.Id)).DeletedAt);
    }

    [Fact]
    public async Task a_scheduled_offer_gets_new_params_and_times_and_is_canceled_by_deleting_it()
    {
        var client = Client;
        var sendAt = DateTimeOffset.UtcNow.AddHours(1);
        var accepted = await client.CreateOfferAsync(Offer("later@example.test") with { SendAt = sendAt });
        var jobId = Assert.Single(accepted.Jobs).Id;
        Assert.Equal(JobState.Scheduled, accepted.Jobs[0].State);

        var changed = await client.UpdateOfferAsync(accepted.Id, new UpdateOfferRequest
        {
            SendAt = sendAt.AddHours(1), ExpireAt = sendAt.AddDays(1),
            Jobs = [new JobParamsChange(jobId, new { to = "moved@example.test", subject = "Moved", text = "New params" })],
        });
        var changedJob = Assert.Single(changed.Jobs);
        Assert.Equal("moved@example.test", changedJob.Params.GetProperty("to").GetString());
        Assert.Equal(sendAt.AddHours(1), changedJob.SendAt!.Value, TimeSpan.FromMilliseconds(1));

        var deleted = await client.DeleteOfferAsync(accepted.Id);
        Assert.Equal(JobState.Canceled, Assert.Single(deleted.Jobs).State);
        Assert.Equal(JobState.Canceled, (await client.GetJobAsync(jobId)).State);
        Assert.Empty(System.Smtp.To("moved@example.test"));
    }

    [Fact]
    public async Task a_bad_offer_throws_a_typed_problem_naming_each_field()
    {
        var bad = new CreateOfferRequest(
        [
            new OfferTarget(System.Email.Name, new { to = "not-an-address", subject = "Hi", text = "x" }),
            new OfferTarget("no-such-adapter", new { }),
        ]);

        var error = await Assert.ThrowsAsync<NotificationApiException>(() => Client.CreateOfferAsync(bad));

        Assert.Equal(422, error.Status);
        Assert.Contains("targets[0].params.to", error.Errors.Keys);
        Assert.Contains("targets[1].adapter", error.Errors.Keys);
        Assert.NotEmpty(error.Errors["targets[1].adapter"]);
        Assert.Equal("The request is not valid.", error.Title);
        Assert.False(string.IsNullOrEmpty(error.TraceId));
        Assert.False(string.IsNullOrEmpty(error.Type));
        Assert.Contains("targets[0].params.to", error.Message);
    }

    [Fact]
    public async Task a_target_with_a_fallback_step_and_its_chain_on_the_offer()
    {
        var idle = await System.CreateEmailAdapterAsync($"idle-{Guid.NewGuid():N}"[..20], 25); // no worker: its job waits
        var client = Client;
        var accepted = await client.CreateOfferAsync(new CreateOfferRequest(
        [
            new OfferTarget(idle.Name, new { to = "chain@example.test", subject = "Hello", text = "first" })
            {
                Fallback = [new FallbackStep(System.Email.Name, new { to = "chain@example.test", subject = "Hello", text = "second" })],
                FallbackAfterSeconds = 1,
            },
        ]));

        var offer = await NotificationService.Testing.Eventually.Until(() => client.GetOfferAsync(accepted.Id),
            o => o.Chains?[0].Outcome == "Finished", TimeSpan.FromSeconds(30), "the chain to end Finished");

        var chain = Assert.Single(offer.Chains!);
        Assert.Equal((0, 1), (chain.Target, chain.FallbackAfterSeconds));
        Assert.Equal(["Canceled", "Finished"], chain.Steps.Select(s => s.State));
        Assert.Equal("NotFinishedInTime", chain.Steps[1].Reason);
        Assert.Equal(System.Email.Name, chain.Steps[1].JobAdapter);
        Assert.Equal("second", Assert.Single(System.Smtp.To("chain@example.test")).TextBody);
    }

    [Fact]
    public async Task a_missing_offer_or_job_is_a_404()
    {
        var client = Client;
        var offer = await Assert.ThrowsAsync<NotificationApiException>(() => client.GetOfferAsync(Guid.NewGuid()));
        var job = await Assert.ThrowsAsync<NotificationApiException>(() => client.GetJobAsync(Guid.NewGuid()));

        Assert.Equal(404, offer.Status);
        Assert.Equal(404, job.Status);
        Assert.Equal("Job was not found.", job.Title);
    }

    [Fact]
    public async Task a_wrong_key_is_a_401()
    {
        var (client, _) = Clients("nss_not-a-key");

        var error = await Assert.ThrowsAsync<NotificationApiException>(() => client.ListAdaptersAsync());

        Assert.Equal(401, error.Status);
    }

    [Fact]
    public async Task a_retry_with_the_callers_idempotency_key_gets_the_first_answer()
    {
        var client = Client;
        var first = await client.CreateOfferAsync(Offer("once@example.test"), idempotencyKey: "client-order-7");
        var retry = await client.CreateOfferAsync(Offer("once@example.test"), idempotencyKey: "client-order-7");
        var other = await client.CreateOfferAsync(Offer("once@example.test"));

        Assert.Equal(first.Id, retry.Id);
        Assert.Equal(first.Jobs, retry.Jobs);
        Assert.NotEqual(first.Id, other.Id);
        await WaitForFinalAsync(client, first.Jobs[0].Id);
        await WaitForFinalAsync(client, other.Jobs[0].Id);
        Assert.Equal(2, System.Smtp.To("once@example.test").Count());

        var reused = await Assert.ThrowsAsync<NotificationApiException>(() =>
            client.CreateOfferAsync(Offer("someone-else@example.test"), idempotencyKey: "client-order-7"));
        Assert.Equal(422, reused.Status);
        Assert.Contains("Idempotency-Key", reused.Errors.Keys);
    }

    [Fact]
    public async Task the_admin_client_sets_up_a_tenant_and_an_adapter_the_tenant_can_use()
    {
        var admin = Clients(null).Admin;
        var suffix = Guid.NewGuid().ToString("N")[..8];

        var service = await admin.CreateServiceAsync($"client-lib-{suffix}");
        Assert.StartsWith("nss_", service.ApiKey);
        Assert.Contains("email", (await admin.ListAdapterTypesAsync()).Select(t => t.Name));
        var adapter = await admin.CreateAdapterAsync(new CreateAdapterRequest($"client-{suffix}", "email",
            new { host = "127.0.0.1", port = System.Smtp.Port, security = "none", from = "ns@example.test" })
        {
            Services = [service.Id], Policy = new DeliveryPolicy { MaxAttempts = 3 },
        });
        Assert.Equal($"ns.adapter.client-{suffix}", adapter.Queue);
        var view = await admin.GetAdapterAsync(adapter.Id);
        Assert.Equal(AdapterStatus.Active, view.Status);
        Assert.Equal([service.Id], view.Services);
        Assert.Equal(3, view.Policy.MaxAttempts);
        // Live status: no worker and no job yet is ok; the list carries it too.
        Assert.Equal(LiveStatus.Ok, view.Live!.Status);
        Assert.Empty(view.Live.Workers);
        Assert.Null(view.Live.OldestWaitingSince);
        Assert.Equal(LiveStatus.Ok, (await admin.ListAdaptersAsync()).Single(a => a.Id == adapter.Id).Live!.Status);

        var limits = await admin.SetServiceLimitsAsync(service.Id, new ServiceLimitsPatch { Burst = 20 });
        Assert.Equal(20, limits.Own.Burst);
        Assert.Null(limits.Own.OffersPerSecond);
        limits = await admin.SetServiceLimitsAsync(service.Id, new ServiceLimitsPatch { Burst = null });
        Assert.Null(limits.Own.Burst);

        var tenant = Clients(service.ApiKey).Client;
        Assert.Contains($"client-{suffix}", (await tenant.ListAdaptersAsync()).Select(a => a.Name));
        Assert.Equal(limits.Effective, (await tenant.GetLimitsAsync()).Limits);
        Assert.Equal(service.Name, (await admin.GetServiceAsync(service.Id)).Name);

        // No worker runs for it and it has no jobs, so it can go again.
        Assert.Equal(adapter.Id, (await admin.DeleteAdapterAsync(adapter.Id)).Id);
    }

    [Fact]
    public async Task the_admin_client_rotates_keys_blocks_a_service_and_patches_an_adapter()
    {
        var admin = Clients(null).Admin;
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var service = await admin.CreateServiceAsync($"client-keys-{suffix}");

        var second = await admin.IssueServiceKeyAsync(service.Id);
        Assert.Equal(2, (await admin.GetServiceAsync(service.Id)).Keys.Count);
        await admin.RevokeServiceKeyAsync(service.Id, service.KeyId);
        Assert.Equal(401, (await Assert.ThrowsAsync<NotificationApiException>(() => Clients(service.ApiKey).Client.GetLimitsAsync())).Status);
        var tenant = Clients(second.ApiKey).Client;
        await tenant.GetLimitsAsync();

        Assert.Equal(ServiceStatus.Blocked, (await admin.BlockServiceAsync(service.Id)).Status);
        Assert.Equal(403, (await Assert.ThrowsAsync<NotificationApiException>(() => tenant.GetLimitsAsync())).Status);
        await admin.UnblockServiceAsync(service.Id);
        await tenant.GetLimitsAsync();

        var retention = await admin.SetServiceRetentionAsync(service.Id, new RetentionPatch { ParamsDays = 3 });
        Assert.Equal(3, retention.Effective.ParamsDays);
        Assert.Null(retention.Set.JobsDays);
        Assert.Contains("ServiceBlocked", (await admin.GetServiceHistoryAsync(service.Id)).Select(e => e.Type));

        var adapter = await admin.CreateAdapterAsync(new CreateAdapterRequest($"client-patch-{suffix}", "email",
            new { host = "127.0.0.1", port = System.Smtp.Port, security = "none", from = "ns@example.test" })
        {
            Policy = new DeliveryPolicy { MaxAttempts = 2, RateLimitPerSecond = 5 },
        });
        // A merge patch with a null field (a JsonObject keeps it; a .NET object would leave it out): the rate limit goes, the rest stays.
        var patched = await admin.UpdateAdapterAsync(adapter.Id, new UpdateAdapterRequest
        {
            Policy = new System.Text.Json.Nodes.JsonObject { ["rateLimitPerSecond"] = null },
            Config = new { from = "changed@example.test" },
        });
        Assert.Null(patched.Policy.RateLimitPerSecond);
        Assert.Equal(2, patched.Policy.MaxAttempts);
        Assert.Equal("changed@example.test", patched.Config.GetProperty("from").GetString());
        Assert.Equal(AdapterStatus.Blocked, (await admin.BlockAdapterAsync(adapter.Id)).Status);
        Assert.Equal(AdapterStatus.Active, (await admin.UnblockAdapterAsync(adapter.Id)).Status);
        Assert.Equal(["AdapterRegistered", "AdapterReconfigured", "AdapterBlocked", "AdapterUnblocked"],
            (await admin.GetAdapterHistoryAsync(adapter.Id)).Select(e => e.Type));
        await admin.DeleteAdapterAsync(adapter.Id);
    }

    [Fact]
    public async Task the_admin_client_finds_a_tenants_job()
    {
        var (client, admin) = Clients(System.Tenant.ApiKey);
        var accepted = await client.CreateOfferAsync(Offer("admin-finds@example.test"));
        var jobId = accepted.Jobs[0].Id;
        await WaitForFinalAsync(client, jobId);

        var found = await admin.SearchJobsAsync(new AdminJobSearch { Service = System.Tenant.Id, State = JobState.Finished, PageSize = 10 });
        var job = Assert.Single(found.Items);
        Assert.Equal(jobId, job.Job.Id);
        Assert.Equal(System.Tenant.Id, job.ServiceId);
        Assert.Equal(jobId, (await admin.GetJobAsync(jobId)).Job.Id);
        Assert.Equal("JobFinished", (await admin.GetJobEventsAsync(jobId))[^1].Type);
        Assert.Contains(await admin.CountJobsAsync(), c => c.Adapter == System.Email.Name && c.State == JobState.Finished && c.Count == 1);
        Assert.Contains(await admin.CountJobsAsync(DateTimeOffset.UtcNow.AddHours(-1), null), c => c.Adapter == System.Email.Name && c.State == JobState.Finished && c.Count == 1);
        Assert.Empty(await admin.CountJobsAsync(DateTimeOffset.UtcNow.AddHours(1), null));
        Assert.Equal(409, (await Assert.ThrowsAsync<NotificationApiException>(() => admin.RetryJobAsync(jobId))).Status);

        // By offer and metadata, and page by page with the cursor.
        var second = await client.CreateOfferAsync(Offer("admin-finds2@example.test") with { Metadata = new Dictionary<string, string> { ["order"] = "42" } });
        var byMetadata = await admin.SearchJobsAsync(new AdminJobSearch { Metadata = new Dictionary<string, string> { ["order"] = "42" } });
        Assert.Equal(second.Jobs[0].Id, Assert.Single(byMetadata.Items).Job.Id);
        Assert.Equal(second.Jobs[0].Id, Assert.Single((await admin.SearchJobsAsync(new AdminJobSearch { OfferId = second.Id })).Items).Job.Id);
        var first = await admin.SearchJobsAsync(new AdminJobSearch { Service = System.Tenant.Id, PageSize = 1 });
        Assert.Equal(second.Jobs[0].Id, Assert.Single(first.Items).Job.Id);
        var next = await admin.SearchJobsAsync(new AdminJobSearch { Service = System.Tenant.Id, PageSize = 1, After = first.Next });
        Assert.Equal((jobId, (int?)null, (string?)null), (Assert.Single(next.Items).Job.Id, next.Page, next.Next));
    }

    [Fact]
    public async Task offers_and_recipients_are_erased_and_the_erasures_listed()
    {
        var (client, admin) = Clients(System.Tenant.ApiKey);
        var first = await client.CreateOfferAsync(Offer("erase-me@example.test") with { Metadata = new Dictionary<string, string> { ["k"] = "v" } });
        var second = await client.CreateOfferAsync(Offer("erase-me-too@example.test"));
        await WaitForFinalAsync(client, first.Jobs[0].Id);
        await WaitForFinalAsync(client, second.Jobs[0].Id);

        var erased = await client.EraseOfferAsync(first.Id);
        Assert.Equal(1, erased.Erased);
        Assert.Empty(erased.NotEnded);
        Assert.Null((await client.GetOfferAsync(first.Id)).Metadata);

        var byRecipient = await admin.EraseRecipientAsync("Erase-Me-Too@example.test");
        Assert.Equal(1, byRecipient.Erased);
        var audit = await admin.ListErasuresAsync(page: 1, pageSize: 50);
        Assert.Contains(audit.Items, e => e.Id == byRecipient.Id && e.Kind == "email" && e.RecipientSha256 is { Length: 64 });
        Assert.Contains(audit.Items, e => e.Kind == "offer" && e.OfferId == first.Id);
    }

    [Fact]
    public async Task the_admin_client_lists_renames_and_revokes()
    {
        var admin = Clients(null).Admin;
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var service = await admin.CreateServiceAsync($"client-list-{suffix}");

        Assert.Equal($"client-renamed-{suffix}", (await admin.RenameServiceAsync(service.Id, $"client-renamed-{suffix}")).Name);
        Assert.Contains(await admin.ListServicesAsync(), s => s.Id == service.Id && s.Name == $"client-renamed-{suffix}");
        Assert.Equal(service.Id, (await admin.GetServiceLimitsAsync(service.Id)).ServiceId);
        Assert.Contains(await admin.ListAdaptersAsync(), a => a.Id == System.Email.Id);

        var invite = await admin.CreateInviteAsync();
        Assert.Contains(await admin.ListInvitesAsync(), i => i.Id == invite.Id);
        Assert.NotNull((await admin.RevokeInviteAsync(invite.Id)).RevokedAt);
        var taken = await Assert.ThrowsAsync<NotificationApiException>(() => admin.CreateServiceAsync($"client-renamed-{suffix}"));
        Assert.Equal(409, taken.Status);
    }

    [Fact]
    public async Task the_admin_client_pages_a_list_by_the_link_headers_cursor()
    {
        var admin = Clients(null).Admin;
        // '!' and a number that falls with time: these names sort before every other service.
        var prefix = $"!{long.MaxValue - DateTime.UtcNow.Ticks:D19} client";
        foreach (var name in new[] { "c", "a", "b" }) await admin.CreateServiceAsync($"{prefix} {name}");

        var first = await admin.ListServicesAsync(limit: 2);
        Assert.Equal([$"{prefix} a", $"{prefix} b"], first.Items.Select(s => s.Name));
        Assert.NotNull(first.Next);
        var second = await admin.ListServicesAsync(limit: 2, after: first.Next);
        Assert.Equal($"{prefix} c", second.Items[0].Name);
        var error = await Assert.ThrowsAsync<NotificationApiException>(() => admin.ListAdaptersAsync(limit: 2, after: first.Next));
        Assert.Equal(422, error.Status);
        // A next page exactly when there are more invites than the page holds (at exactly 200 there is none).
        var invites = await admin.ListInvitesAsync(limit: 200);
        var whole = await admin.ListInvitesAsync();
        Assert.Equal(whole.Count > 200, invites.Next is not null);
    }

    [Theory]
    [InlineData("</admin/services?limit=2&after=abc%2Bd>; rel=\"next\"")]
    [InlineData("</admin/services?limit=2&after=first>; rel=\"prev\", </admin/services?limit=2&after=abc%2Bd>; rel=\"next\"")]
    [InlineData("</admin/services?after=first>; rel=prev, </admin/services?after=abc%2Bd&limit=2>; rel=next")]
    [InlineData("</admin/services?after=abc%2Bd>; title=\"more\"; rel=\"next last\"")]
    public async Task the_admin_client_reads_the_next_cursor_from_any_link_of_the_header(string link)
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.Reply = _ => new PeerReply(200, "[]", new Dictionary<string, string> { ["Link"] = link });
        var admin = new NotificationAdminClient(new HttpClient { BaseAddress = new Uri(peer.BaseUrl) }, SystemFixture.AdminKey);
        Assert.Equal("abc+d", (await admin.ListServicesAsync(limit: 2)).Next);
        peer.Reply = _ => new PeerReply(200, "[]", new Dictionary<string, string> { ["Link"] = "</admin/services?after=first>; rel=prev" });
        Assert.Null((await admin.ListServicesAsync(limit: 2)).Next);
    }

    [Fact]
    public async Task the_admin_client_pages_operations_and_dead_letters_by_cursor_and_still_by_number()
    {
        var admin = Clients(null).Admin;
        // Re-drives whose window matches nothing: recorded actions enough for three pages of two.
        for (var i = 0; i < 5; i++)
            await admin.RedriveJobsAsync(new RedriveJobs(State: JobState.Failed, From: DateTimeOffset.Parse("2000-01-01T00:00:00Z"), To: DateTimeOffset.Parse("2000-01-02T00:00:00Z")));
        var first = await admin.ListOperationsByCursorAsync(pageSize: 2);
        Assert.NotNull(first.Next);
        var second = await admin.ListOperationsByCursorAsync(pageSize: 2, after: first.Next);
        // The number's way answers as it always did (a PagedResult), and its page 2 is the cursor's.
        PagedResult<OperationView> byNumber = await admin.ListOperationsAsync(page: 2, pageSize: 2);
        Assert.Equal(2, byNumber.Page);
        Assert.Equal(byNumber.Items.Select(o => o.Id), second.Items.Select(o => o.Id));
        Assert.Empty(first.Items.Select(o => o.Id).Intersect(second.Items.Select(o => o.Id)));

        // Letters only: the failure masks ids and numbers, and the search finds these letters by it.
        var cause = $"client paging {new string(Guid.NewGuid().ToString("N").Select(c => char.IsAsciiDigit(c) ? (char)('g' + c - '0') : c).ToArray())}";
        var now = DateTimeOffset.UtcNow;
        var ids = await Operations.DeadLetterRows.InsertAsync(System.Email.Queue, Enumerable.Range(0, 3).Select(i => (Guid.NewGuid(), now.AddSeconds(-i))).ToList(), cause);
        try
        {
            var search = new DeadLetterSearch { Failure = cause, PageSize = 2 };
            var letters = await admin.ListDeadLettersByCursorAsync(search);
            Assert.Equal(ids[..2], letters.Items.Select(l => l.Id));
            var rest = await admin.ListDeadLettersByCursorAsync(search with { After = letters.Next });
            Assert.Equal(ids[2..], rest.Items.Select(l => l.Id));
            Assert.Null(rest.Next);
            PagedResult<DeadLetterView> numbered = await admin.ListDeadLettersAsync(search with { Page = 2 });
            Assert.Equal(ids[2..], numbered.Items.Select(l => l.Id));
            await Assert.ThrowsAsync<ArgumentException>(() => admin.ListDeadLettersAsync(search with { After = letters.Next }));
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM {Operations.DeadLetterRows.WorkersTable} WHERE id IN ({string.Join(",", ids.Select(id => $"'{id}'"))})");
        }
    }

    [Fact]
    public async Task a_person_registers_with_an_invite_through_the_client()
    {
        var (anonymous, admin) = Clients(null);
        var invite = await admin.CreateInviteAsync(new CreateInviteRequest("for the client test", 1));

        var registered = await anonymous.RegisterAsync($"client-reg-{Guid.NewGuid():N}"[..24], invite.Code);

        Assert.StartsWith("nss_", registered.ApiKey);
        Assert.Equal(registered.Id, (await admin.GetInviteAsync(invite.Id)).ServiceId);
        var again = await Assert.ThrowsAsync<NotificationApiException>(() => anonymous.RegisterAsync("another-name", invite.Code));
        Assert.Contains("inviteCode", again.Errors.Keys);
    }

    public void Dispose()
    {
        foreach (var provider in _providers) provider.Dispose();
    }
}
