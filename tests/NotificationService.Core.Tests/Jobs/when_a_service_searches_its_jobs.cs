using System.Text.Json;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>GET /v1/jobs: a service finds its own jobs by state, adapter, offer, creation time and offer metadata, page by page.</summary>
public sealed class when_a_service_searches_its_jobs(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>An adapter no worker serves: its jobs stay Queued, so a test decides every job's state.</summary>
    private async Task<RegisteredAdapter> IdleAdapterAsync() => await System.CreateEmailAdapterAsync($"search-idle-{Guid.NewGuid():N}", 9);

    private Task<OfferAccepted> OfferAsync(Tenant tenant, string adapter, object? metadata = null, DateTimeOffset? sendAt = null, int targets = 1) =>
        System.CreateOfferAsync(tenant, Offer(adapter, metadata, sendAt, targets));

    private static object Offer(string adapter, object? metadata = null, DateTimeOffset? sendAt = null, int targets = 1) => new
    {
        targets = Enumerable.Range(0, targets).Select(i => ClientApi.EmailTarget(adapter, $"r{i}@example.test")).ToArray(),
        metadata, sendAt,
    };

    private Task<JobPage> SearchAsync(string query, Tenant? tenant = null) =>
        System.SendAsync<JobPage>(HttpMethod.Get, $"/v1/jobs{query}", (tenant ?? System.Tenant).ApiKey, expect: 200);

    private static HashSet<Guid> Ids(JobPage page) => page.Items.Select(j => j.Id).ToHashSet();

    [Fact]
    public async Task pages_come_newest_first_without_duplicates_or_gaps_while_new_jobs_arrive()
    {
        var adapter = await IdleAdapterAsync();
        var before = new List<Guid>();
        // Several jobs per offer: they share the offer's creation time to the tick, so the id decides their order.
        for (var i = 0; i < 9; i++) before.AddRange((await OfferAsync(System.Tenant, adapter.Name, targets: i % 3 + 1)).Jobs.Select(j => j.Id));

        var seen = new List<JobView>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await SearchAsync($"?limit=4{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.Items);
            cursor = page.Next;
            pages++;
            // Jobs arriving while the client pages are newer than its cursor: they belong before the first page, not in the rest.
            await OfferAsync(System.Tenant, adapter.Name);
        } while (cursor is not null && pages < 20); // a cursor that does not move on must fail the test, not hang it

        Assert.Equal(before.Count, seen.Count);
        Assert.Equal(before.ToHashSet(), seen.Select(j => j.Id).ToHashSet());
        Assert.Equal((before.Count + 3) / 4, pages);
        var expectedOrder = seen.OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id).Select(j => j.Id);
        Assert.Equal(expectedOrder, seen.Select(j => j.Id));
        Assert.Contains(seen, j => seen.Count(o => o.CreatedAt == j.CreatedAt) > 1); // ties on createdAt were crossed
        Assert.Equal(before.Count + pages, (await SearchAsync("?limit=200")).Items.Count);
    }

    [Fact]
    public async Task each_filter_keeps_exactly_the_matching_jobs()
    {
        var (idle, other) = (await IdleAdapterAsync(), await IdleAdapterAsync());
        var scheduled = await OfferAsync(System.Tenant, idle.Name, sendAt: DateTimeOffset.UtcNow.AddDays(1), targets: 2);
        var queued = await OfferAsync(System.Tenant, idle.Name);
        var elsewhere = await OfferAsync(System.Tenant, other.Name);
        var delivered = await System.DeliverOfferAsync(System.Tenant, Offer(System.Email.Name));
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, delivered.Jobs[0].Id)).State);
        var all = (await SearchAsync("")).Items;
        Assert.Equal(5, all.Count);

        Assert.Equal(scheduled.Jobs.Select(j => j.Id).ToHashSet(), Ids(await SearchAsync("?state=Scheduled")));
        Assert.Equal([delivered.Jobs[0].Id], Ids(await SearchAsync("?state=finished"))); // names in any case
        Assert.Empty((await SearchAsync("?state=Failed")).Items);
        Assert.Equal([elsewhere.Jobs[0].Id], Ids(await SearchAsync($"?adapter={other.Name}")));
        Assert.Equal([queued.Jobs[0].Id], Ids(await SearchAsync($"?adapter={idle.Name}&state=Queued")));
        Assert.Equal(scheduled.Jobs.Select(j => j.Id).ToHashSet(), Ids(await SearchAsync($"?offerId={scheduled.Id}")));
        Assert.Empty((await SearchAsync($"?offerId={Guid.NewGuid()}")).Items);

        // createdFrom is inclusive and createdTo exclusive, to the microsecond PostgreSQL keeps: a job's time and a bound
        // both lose their 100 ns digit alike (Npgsql writes both), so a bound 1 µs after the job could fall on the job's
        // own microsecond (job at .xxxxx75, bound at .xxxxx85). A window of 2 µs holds the job whatever its digits.
        var middle = all.Single(j => j.Id == queued.Jobs[0].Id).CreatedAt;
        var at = Uri.EscapeDataString(middle.ToString("O"));
        Assert.Equal(all.Where(j => j.CreatedAt >= middle).Select(j => j.Id).ToHashSet(), Ids(await SearchAsync($"?createdFrom={at}")));
        Assert.Equal(all.Where(j => j.CreatedAt < middle).Select(j => j.Id).ToHashSet(), Ids(await SearchAsync($"?createdTo={at}")));
        Assert.Equal([queued.Jobs[0].Id], Ids(await SearchAsync($"?createdFrom={at}&createdTo={Uri.EscapeDataString(middle.AddTicks(20).ToString("O"))}")));
        Assert.Empty((await SearchAsync($"?createdFrom={at}&createdTo={at}")).Items);
    }

    [Fact]
    public async Task metadata_filters_read_the_offers_metadata_and_and_together()
    {
        var idle = await IdleAdapterAsync();
        var acmeEu = await OfferAsync(System.Tenant, idle.Name, new { customer = "acme", region = "eu" }, targets: 2);
        var acmeUs = await OfferAsync(System.Tenant, idle.Name, new { customer = "acme", region = "us" });
        await OfferAsync(System.Tenant, idle.Name, new { customer = "globex", region = "eu" });
        await OfferAsync(System.Tenant, idle.Name);

        Assert.Equal(acmeEu.Jobs.Concat(acmeUs.Jobs).Select(j => j.Id).ToHashSet(), Ids(await SearchAsync("?metadata.customer=acme")));
        Assert.Equal(acmeEu.Jobs.Select(j => j.Id).ToHashSet(), Ids(await SearchAsync("?metadata.customer=acme&metadata.region=eu")));
        Assert.Equal(acmeEu.Jobs.Select(j => j.Id).ToHashSet(), Ids(await SearchAsync("?metadata.region=eu&state=Queued&metadata.customer=acme&limit=5")));
        Assert.Empty((await SearchAsync("?metadata.customer=ACME")).Items); // values match exactly
        Assert.Empty((await SearchAsync("?metadata.customer=acme&metadata.region=asia")).Items);
        // The prefix in any case, like the other parameter names (it used to be ignored: every job came back).
        Assert.Equal(acmeEu.Jobs.Select(j => j.Id).ToHashSet(), Ids(await SearchAsync("?Metadata.customer=acme&METADATA.region=eu")));

        // A PATCH of the offer's metadata moves its jobs at once: the filter reads the offer, not a copy.
        await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/offers/{acmeUs.Id}", System.Tenant.ApiKey, new { metadata = new { customer = "initech" } }, expect: 200);
        Assert.Equal(acmeEu.Jobs.Select(j => j.Id).ToHashSet(), Ids(await SearchAsync("?metadata.customer=acme")));
        Assert.Equal([acmeUs.Jobs[0].Id], Ids(await SearchAsync("?metadata.customer=initech&metadata.region=us")));
    }

    [Fact]
    public async Task another_services_jobs_never_appear_and_its_cursor_is_refused()
    {
        var idle = await IdleAdapterAsync();
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        var theirs = new List<Guid>();
        for (var i = 0; i < 3; i++) theirs.AddRange((await OfferAsync(other, idle.Name, new { customer = "acme" }, targets: 2)).Jobs.Select(j => j.Id));
        var ours = await OfferAsync(System.Tenant, idle.Name, new { customer = "acme" });

        Assert.Equal([ours.Jobs[0].Id], Ids(await SearchAsync("")));
        Assert.Equal([ours.Jobs[0].Id], Ids(await SearchAsync("?metadata.customer=acme")));
        Assert.Equal([ours.Jobs[0].Id], Ids(await SearchAsync($"?adapter={idle.Name}")));
        Assert.Empty((await SearchAsync($"?offerId={(await System.SendAsync<JobPage>(HttpMethod.Get, "/v1/jobs", other.ApiKey, expect: 200)).Items[0].OfferId}")).Items);

        var theirPage = await SearchAsync("?limit=2", other);
        Assert.Subset(theirs.ToHashSet(), Ids(theirPage));
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs?cursor={theirPage.Next}", System.Tenant.ApiKey);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("cursor", out _));
    }

    [Theory]
    [InlineData("?state=Lost", "state")]
    [InlineData("?state=1", "state")]
    [InlineData("?state=", "state")]
    [InlineData("?adapter=", "adapter")]
    [InlineData("?offerId=42", "offerId")]
    [InlineData("?createdFrom=yesterday", "createdFrom")]
    [InlineData("?createdFrom=2026-11-30T08:00:00+01:00", "createdFrom")] // the '+' arrived as a space
    [InlineData("?createdTo=30/11/2026", "createdTo")]
    [InlineData("?createdFrom=2026-11-30T09:00:00Z&createdTo=2026-11-30T08:00:00Z", "createdFrom")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?limit=-5", "limit")]
    [InlineData("?limit=ten", "limit")]
    [InlineData("?cursor=abc", "cursor")]
    [InlineData("?cursor=", "cursor")]
    [InlineData("?metadata.=acme", "metadata.")]
    [InlineData("?metadata.customer=a&metadata.customer=b", "metadata.customer")]
    [InlineData("?metadata.a=1&metadata.b=1&metadata.c=1&metadata.d=1&metadata.e=1&metadata.f=1&metadata.g=1&metadata.h=1&metadata.i=1&metadata.j=1&metadata.k=1", "metadata")]
    [InlineData("?metadata.%00=x", "metadata.\u0000")] // jsonb cannot hold NUL: was a 500 (22P05)
    [InlineData("?metadata.a%00b=x", "metadata.a\u0000b")]
    [InlineData("?metadata.%01=x", "metadata.\u0001")]
    [InlineData("?metadata.a%0Ab=x", "metadata.a\nb")]
    [InlineData("?status=Failed", "status")] // not a filter here: was ignored, and the whole listing came back
    [InlineData("?page=2", "page")]
    [InlineData("?state=Queued&metadata_customer=acme", "metadata_customer")]
    public async Task a_bad_value_is_a_422_naming_the_field(string query, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs{query}", System.Tenant.ApiKey);

        Assert.Equal(422, status);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(JobState.Failed, null)]
    [InlineData(null, "some-adapter")]
    public async Task a_page_is_never_read_off_the_index_by_time_alone_which_holds_every_services_jobs(JobState? state, string? adapter)
    {
        // Walked for one service, the createdAt index hands out every job the other services created since that
        // service's newest before the first of its own; the planner took it for a service holding most jobs (bench/README.md,
        // "A service's first page through other services' jobs"). With the indexes led by the service dropped (rolled back),
        // the page's order must come from a sort, not from that index.
        var (sql, args) = ListJobsEndpoint.ToSql(new JobSearch(System.Tenant.Id, state, adapter, null, null, null, null, 50, null, []));
        var numbered = string.Concat(sql.Split('?').Select((part, i) => i == 0 ? part : $"${i}{part}"));
        // As the service opens its connections (its random_page_cost).
        await using var connection = new Npgsql.NpgsqlConnection(NotificationStore.PooledConnectionString(NotificationService.Testing.TestEnvironment.Postgres));
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        async Task<string> PlanAsync()
        {
            await using var explain = new Npgsql.NpgsqlCommand($"EXPLAIN (FORMAT JSON) {numbered}", connection, transaction);
            foreach (var value in args) explain.Parameters.Add(new Npgsql.NpgsqlParameter { Value = value });
            return (string)(await explain.ExecuteScalarAsync())!;
        }
        // Scans and sorts priced out, so the plan says which indexes can give the page in its order, whatever the few rows
        // of the test database would make cheapest.
        await using (var off = new Npgsql.NpgsqlCommand("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off", connection, transaction))
            await off.ExecuteNonQueryAsync();
        // The page read in order off an index led by the service: no sort.
        var ordered = await PlanAsync();
        Assert.Contains("\"Index Name\": \"mt_doc_job_idx_service_", ordered);
        Assert.DoesNotContain("\"Node Type\": \"Sort\"", ordered);

        await using (var drop = new Npgsql.NpgsqlCommand("""
            DROP INDEX ns.mt_doc_job_idx_service_created, ns.mt_doc_job_idx_service_state_created, ns.mt_doc_job_idx_service_adapter_created,
                ns.mt_doc_job_idx_pending_service, ns.mt_doc_job_idx_service_finished_unerased
            """, connection, transaction)) await drop.ExecuteNonQueryAsync();
        // Without them no other index gives the order, the createdAt one included (it would, for `service_id = ?`): a sort.
        var plan = await PlanAsync();
        Assert.Contains("\"Node Type\": \"Sort\"", plan);
        await transaction.RollbackAsync();
    }

    [Fact]
    public async Task an_edited_cursor_is_a_422_not_another_page()
    {
        var idle = await IdleAdapterAsync();
        await OfferAsync(System.Tenant, idle.Name, targets: 3);
        var next = (await SearchAsync("?limit=1")).Next!;
        var edited = next[..10] + (next[10] == 'A' ? 'B' : 'A') + next[11..];

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs?limit=1&cursor={edited}", System.Tenant.ApiKey);

        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("cursor", out _));
        Assert.Single((await SearchAsync($"?limit=1&cursor={next}")).Items);
    }
}
