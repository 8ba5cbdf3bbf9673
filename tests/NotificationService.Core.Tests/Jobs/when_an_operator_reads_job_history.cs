using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Jobs;

public sealed class when_an_operator_reads_job_history(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task jobs_can_be_searched_across_services_and_a_failed_one_re_driven()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "retry@example.test");
        var failed = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "retry@example.test") } });
        var failedJob = await System.GetJobAsync(System.Tenant, failed.Jobs[0].Id);
        Assert.Equal(JobState.Failed, failedJob.State);
        var theirs = await System.DeliverOfferAsync(other, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "theirs@example.test") } });

        var failedOnes = await System.SendAsync<AdminJobPage>(HttpMethod.Get, "/admin/jobs?state=Failed", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(failedJob.Id, Assert.Single(failedOnes.Items).Job.Id);
        var theirJobs = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={other.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(theirs.Jobs[0].Id, Assert.Single(theirJobs.Items).Job.Id);
        var counts = await System.SendAsync<List<JobCount>>(HttpMethod.Get, "/admin/jobs/counts", SystemFixture.AdminKey, expect: 200);
        Assert.Contains(new JobCount(System.Email.Name, JobState.Failed, 1), counts);
        Assert.Contains(new JobCount(System.Email.Name, JobState.Finished, 1), counts);

        // Tracked until the worker has handled the re-driven delivery.
        await System.TrackAsync(() => System.ScenarioAsync(HttpMethod.Post, $"/admin/jobs/{failedJob.Id}/retry", SystemFixture.AdminKey, expect: 202),
            new Handled<DeliverJob>(m => m.JobId == failedJob.Id));
        var retried = await System.GetJobAsync(System.Tenant, failedJob.Id);
        Assert.Equal(JobState.Finished, retried.State);
        Assert.Equal(2, retried.Attempts);
        Assert.Equal(1, retried.Retries);
        Assert.Single(System.Smtp.To("retry@example.test"));
        var events = await System.SendAsync<List<HistoryEntry>>(HttpMethod.Get, $"/admin/jobs/{failedJob.Id}/events", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["JobQueued", "JobStarted", "JobFailed", "JobRetryRequested", "JobStarted", "JobFinished"], events.Select(e => e.Type));

        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Post, $"/admin/jobs/{failedJob.Id}/retry", SystemFixture.AdminKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs/{Guid.NewGuid()}", SystemFixture.AdminKey)).Status);
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, "/admin/jobs?pageSize=100000", SystemFixture.AdminKey)).Status);
    }

    [Fact]
    public async Task the_search_pages_newest_first_with_the_total_of_its_matches()
    {
        var tenant = await System.CreateTenantAsync($"paged-{Guid.NewGuid():N}");
        var jobs = new List<Guid>();
        for (var i = 0; i < 3; i++) // scheduled for tomorrow, so they stay as they are
            jobs.Add((await System.CreateOfferAsync(tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, $"paged{i}@example.test") }, sendAt = DateTimeOffset.UtcNow.AddDays(1),
            })).Jobs[0].Id);

        async Task<AdminJobPage> PageAsync(int page) =>
            await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&pageSize=2&page={page}", SystemFixture.AdminKey, expect: 200);

        var first = await PageAsync(1);
        Assert.Equal((3L, (int?)1, 2), (first.Total, first.Page, first.PageSize));
        Assert.Equal([jobs[2], jobs[1]], first.Items.Select(j => j.Job.Id));
        var second = await PageAsync(2);
        Assert.Equal(3, second.Total);
        Assert.Equal([jobs[0]], second.Items.Select(j => j.Job.Id));
        var past = await PageAsync(3);
        Assert.Equal(3, past.Total);
        Assert.Empty(past.Items);
    }

    [Fact]
    public async Task the_search_pages_by_cursor_and_finds_an_offers_jobs_and_its_metadata()
    {
        var tenant = await System.CreateTenantAsync($"cursor-{Guid.NewGuid():N}");
        var idle = await System.CreateEmailAdapterAsync($"cursor-idle-{Guid.NewGuid():N}", 9); // no worker: its jobs stay Queued
        var offers = new List<OfferAccepted>();
        // Several jobs per offer share its creation time to the tick: the id orders them, and the cursor crosses such ties.
        for (var i = 0; i < 4; i++)
            offers.Add(await System.CreateOfferAsync(tenant, new
            {
                targets = Enumerable.Range(0, i % 2 + 1).Select(t => ClientApi.EmailTarget(idle.Name, $"c{i}-{t}@example.test")).ToArray(),
                metadata = new { customer = i == 2 ? "acme" : "other", round = $"{i}" },
            }));
        var all = offers.SelectMany(o => o.Jobs.Select(j => j.Id)).ToHashSet();

        var seen = new List<AdminJobView>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = await System.SendAsync<AdminJobPage>(HttpMethod.Get,
                $"/admin/jobs?service={tenant.Id}&pageSize=2{(after is null ? "" : $"&after={after}")}", SystemFixture.AdminKey, expect: 200);
            Assert.Equal(after is null ? 1 : null, page.Page);
            Assert.Equal((6L, true), (page.Total, page.TotalIsExact));
            seen.AddRange(page.Items);
            after = page.Next;
            pages++;
        } while (after is not null && pages < 10);
        Assert.Equal(3, pages);
        Assert.Equal(all, seen.Select(j => j.Job.Id).ToHashSet());
        Assert.Equal(seen.OrderByDescending(j => j.Job.CreatedAt).ThenByDescending(j => j.Job.Id).Select(j => j.Job.Id), seen.Select(j => j.Job.Id));
        // A numbered page gives the cursor of the page after it too, so a caller can switch to cursors.
        var numbered = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&pageSize=2&page=2", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(seen.Skip(2).Take(2).Select(j => j.Job.Id), numbered.Items.Select(j => j.Job.Id));
        var rest = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&pageSize=5&after={numbered.Next}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(seen.Skip(4).Select(j => j.Job.Id), rest.Items.Select(j => j.Job.Id));
        Assert.Null(rest.Next);

        var offerJobs = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?offerId={offers[3].Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(offers[3].Jobs.Select(j => j.Id).ToHashSet(), offerJobs.Items.Select(j => j.Job.Id).ToHashSet());
        Assert.Equal(2, offerJobs.Total);
        var acme = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?metadata.customer=acme&metadata.round=2&service={tenant.Id}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(offers[2].Jobs.Select(j => j.Id), acme.Items.Select(j => j.Job.Id));
        // Across every service too (no service filter), and a pair no offer holds finds nothing.
        var acmeAnywhere = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?metadata.round=2&adapter={idle.Name}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(offers[2].Jobs.Select(j => j.Id), acmeAnywhere.Items.Select(j => j.Job.Id));
        Assert.Empty((await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?metadata.customer=acme&metadata.round=1", SystemFixture.AdminKey, expect: 200)).Items);
    }

    [Theory]
    [InlineData("?after=not-a-cursor", "after")]
    [InlineData("?offerId=nope", "offerId")]
    [InlineData("?service=nope", "service")]
    [InlineData("?state=Lost", "state")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?from=2026-11-30T10:00:00Z&to=2026-11-30T09:00:00Z", "from")]
    [InlineData("?pageSize=0", "pageSize")]
    [InlineData("?page=-1", "page")]
    [InlineData("?metadata.=x", "metadata.")]
    [InlineData("?status=Failed", "status")]
    public async Task a_bad_value_is_a_422_naming_the_field(string query, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs{query}", SystemFixture.AdminKey);

        Assert.Equal(422, status);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task a_cursor_of_a_services_own_listing_or_with_a_page_number_is_refused()
    {
        var tenant = await System.CreateTenantAsync($"foreign-{Guid.NewGuid():N}");
        var idle = await System.CreateEmailAdapterAsync($"foreign-idle-{Guid.NewGuid():N}", 9);
        for (var i = 0; i < 2; i++) await System.CreateOfferAsync(tenant, new { targets = new[] { ClientApi.EmailTarget(idle.Name, $"f{i}@example.test") } });
        var theirs = await System.SendAsync<JobPage>(HttpMethod.Get, "/v1/jobs?limit=1", tenant.ApiKey, expect: 200);
        var ours = await System.SendAsync<AdminJobPage>(HttpMethod.Get, $"/admin/jobs?service={tenant.Id}&pageSize=1", SystemFixture.AdminKey, expect: 200);
        Assert.NotNull(theirs.Next);
        Assert.NotNull(ours.Next);

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs?after={theirs.Next}", SystemFixture.AdminKey);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("after", out _));
        // And the other way round: the admin cursor is not a service's.
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs?cursor={ours.Next}", tenant.ApiKey)).Status);
        (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs?after={ours.Next}&page=2", SystemFixture.AdminKey);
        Assert.Equal(422, status);
        Assert.Equal(["page"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }
}
