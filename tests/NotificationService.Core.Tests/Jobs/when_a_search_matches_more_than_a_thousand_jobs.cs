using Npgsql;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// Above <see cref="Paging.MaxCountedTotal"/> matches the admin search (GET /admin/jobs) stops counting and reads the page
/// off the filter's index in order (by number: that page's ids first, then their jobs), instead of by the matches' ids
/// (SearchJobsEndpoint, JobFilter.MatchIdsSql and PageSql): its page, order, total (not exact) and cursor must be those of the filter's whole match set, not of the first
/// 1,001 ids found in no order. A service's own listing (GET /v1/jobs) has no total and no such branch (keyset paging, see
/// ListJobsEndpoint): over the same thousand-odd matches its cursor must still walk every one, newest first.
/// </summary>
public sealed class when_a_search_matches_more_than_a_thousand_jobs(SystemFixture system) : IntegrationContext(system)
{
    private const int Finished = Paging.MaxCountedTotal + 50;
    private const int Failed = 30;

    /// <summary>
    /// Finished and Failed jobs of one new service, straight into the table; two jobs share each creation time (to the
    /// microsecond), so the id orders them. Returns each state's jobs newest first, as the listings must give them.
    /// </summary>
    private static async Task<(List<Guid> Finished, List<Guid> Failed)> SeedAsync(Guid serviceId)
    {
        var start = new DateTimeOffset(2026, 11, 1, 8, 0, 0, TimeSpan.Zero);
        // Every 36th job Failed (30 of 1,080), spread through the Finished ones; 1.500123 s between creation times.
        var jobs = Enumerable.Range(0, Finished + Failed)
            .Select(i => (Id: Guid.NewGuid(), CreatedAt: start.AddTicks(i / 2 * 15_001_230L), State: i % 36 == 7 ? "Failed" : "Finished"))
            .ToList();
        Assert.Equal(Finished, jobs.Count(j => j.State == "Finished"));

        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO ns.mt_doc_job (id, data, mt_last_modified, mt_dotnet_type, mt_version, created_at, finished_at, service_id, state, adapter_name)
            SELECT id, jsonb_build_object('id', id, 'state', state, 'params', jsonb_build_object('n', n), 'sendAt', null,
                'offerId', gen_random_uuid(), 'retries', 0, 'version', 3, 'attempts', 1, 'expireAt', null, 'adapterId', gen_random_uuid(),
                'createdAt', created, 'isPending', false, 'lastError', null, 'serviceId', $1, 'startedAt', created,
                'finishedAt', created, 'generation', 0, 'isInFlight', false, 'isTerminal', true, 'adapterName', 'seeded',
                'paramsErasedAt', null, 'lastErrorDetail', null, 'lastErrorAttempt', null, 'possiblyDelivered', false, 'possibleDuplicates', 0,
                'cancellationRequested', false),
              now(), 'NotificationService.Storage.Jobs.Job', 3, created::timestamptz, created::timestamptz, $1::uuid, state, 'seeded'
            FROM unnest($2::uuid[], $3::text[], $4::text[]) WITH ORDINALITY AS seeded(id, created, state, n)
            """, connection);
        insert.Parameters.Add(new NpgsqlParameter { Value = serviceId.ToString() });
        insert.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Id).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.CreatedAt.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'")).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.State).ToArray() });
        Assert.Equal(Finished + Failed, await insert.ExecuteNonQueryAsync());

        List<Guid> NewestFirst(string state) =>
            [.. jobs.Where(j => j.State == state).OrderByDescending(j => j.CreatedAt).ThenByDescending(j => j.Id, GuidOrder.Instance).Select(j => j.Id)];
        return (NewestFirst("Finished"), NewestFirst("Failed"));
    }

    [Fact]
    public async Task the_admin_search_pages_newest_first_and_says_its_total_is_not_exact()
    {
        var tenant = await System.CreateTenantAsync($"thousands-{Guid.NewGuid():N}");
        var (finished, failed) = await SeedAsync(tenant.Id);

        Task<AdminJobPage> SearchAsync(string query) =>
            System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&state=Finished{query}", SystemFixture.AdminKey, expect: 200);

        var first = await SearchAsync("&pageSize=200");
        Assert.Equal(((long)Paging.MaxCountedTotal, false), (first.Total, first.TotalIsExact));
        Assert.Equal(finished.Take(200), first.Items.Select(j => j.Job.Id));
        var second = await SearchAsync($"&pageSize=200&after={first.Next}");
        Assert.Equal(finished.Skip(200).Take(200), second.Items.Select(j => j.Job.Id));
        Assert.Equal(((long)Paging.MaxCountedTotal, false), (second.Total, second.TotalIsExact));

        // Past the counted total by page number: the 1,001st to the 1,050th match, and no page after it.
        var last = await SearchAsync($"&pageSize=50&page={Paging.MaxCountedTotal / 50 + 1}");
        Assert.Equal(finished.Skip(Paging.MaxCountedTotal), last.Items.Select(j => j.Job.Id));
        Assert.Null(last.Next);
        // A cursor that leaves exactly one page: the rest, in order, and no cursor after it.
        var tail = await SearchAsync($"&pageSize=200&after={(await SearchAsync($"&pageSize=50&page={Paging.MaxCountedTotal / 50 - 3}")).Next}");
        Assert.Equal(finished.Skip(Paging.MaxCountedTotal - 150), tail.Items.Select(j => j.Job.Id));
        Assert.Null(tail.Next);

        // The same service's rare state is counted exactly and read by its ids (the other branch), in the same order.
        var rare = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&state=Failed&pageSize=200", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(((long)Failed, true, null), (rare.Total, rare.TotalIsExact, rare.Next));
        Assert.Equal(failed, rare.Items.Select(j => j.Job.Id));
    }

    [Fact]
    public async Task the_services_own_listing_s_cursor_walks_every_one_of_the_matches_newest_first()
    {
        var tenant = await System.CreateTenantAsync($"thousands-{Guid.NewGuid():N}");
        var (finished, _) = await SeedAsync(tenant.Id);

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await System.SendAsync<JobPage>(HttpMethod.Get, $"/v1/jobs?state=Finished&limit=200{(cursor is null ? "" : $"&cursor={cursor}")}", tenant.ApiKey, expect: 200);
            seen.AddRange(page.Items.Select(j => j.Id));
            cursor = page.Next;
            pages++;
        } while (cursor is not null && pages < 10); // a cursor that does not move on must fail the test, not hang it

        Assert.Equal((Finished + 199) / 200, pages);
        Assert.Equal(finished, seen);
    }

    /// <summary>PostgreSQL's uuid order: byte by byte as written, which is not <see cref="Guid.CompareTo(Guid)"/>'s.</summary>
    private sealed class GuidOrder : IComparer<Guid>
    {
        public static readonly GuidOrder Instance = new();
        public int Compare(Guid x, Guid y) => string.CompareOrdinal(x.ToString("N"), y.ToString("N"));
    }
}
