using NotificationService.Core.Jobs;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>GET /admin/jobs/counts: per adapter and state, of the jobs created in [from, to) (the console's last hour or day).</summary>
public sealed class when_an_operator_counts_jobs(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task only_the_jobs_created_in_the_window_are_counted()
    {
        var created = new List<DateTimeOffset>();
        for (var i = 0; i < 3; i++) // scheduled for tomorrow, so they stay Scheduled
        {
            var offer = await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, $"count{i}@example.test") }, sendAt = DateTimeOffset.UtcNow.AddDays(1),
            });
            created.Add((await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).CreatedAt);
        }
        Assert.True(created[0] < created[1] && created[1] < created[2], "the jobs were created one after another");

        async Task<List<JobCount>> CountAsync(string query) =>
            await System.SendAsync<List<JobCount>>(HttpMethod.Get, $"/admin/jobs/counts{query}", SystemFixture.AdminKey, expect: 200);
        static string Utc(DateTimeOffset t) => Uri.EscapeDataString(t.UtcDateTime.ToString("O"));

        Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 3)], await CountAsync(""));
        Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 2)], await CountAsync($"?from={Utc(created[1])}"));
        Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 1)], await CountAsync($"?to={Utc(created[1])}"));
        Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 1)], await CountAsync($"?from={Utc(created[1])}&to={Utc(created[2])}"));
        // PostgreSQL keeps microseconds: a millisecond later is past the last job for sure.
        Assert.Empty(await CountAsync($"?from={Utc(created[2].AddMilliseconds(1))}"));
        // The same instant written with another offset bounds the same jobs.
        var plus3 = Uri.EscapeDataString(created[1].ToOffset(TimeSpan.FromHours(3)).ToString("O"));
        Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 2)], await CountAsync($"?from={plus3}"));

        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/jobs/counts?from={Utc(created[2])}&to={Utc(created[0])}", SystemFixture.AdminKey);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("from", out _));
    }

    [Fact]
    public async Task each_adapter_and_state_is_its_own_row()
    {
        var offer = await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "delivered@example.test") } });
        await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "later@example.test") }, sendAt = DateTimeOffset.UtcNow.AddDays(1),
        });
        var counts = await System.SendAsync<List<JobCount>>(HttpMethod.Get, $"/admin/jobs/counts?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"))}", SystemFixture.AdminKey, expect: 200);
        Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 1), new JobCount(System.Email.Name, JobState.Finished, 1)], counts);
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State);
    }

    [Theory]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-13-01T00:00:00Z", "to")]
    [InlineData("from=2026-01-01T00:00:00 01:00", "from")] // an unencoded '+' arrives as a space
    public async Task a_time_that_is_not_iso_8601_is_a_422_naming_the_field_as_in_the_listing(string query, string field)
    {
        foreach (var path in new[] { "/admin/jobs/counts", "/admin/jobs" })
        {
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"{path}?{query}", SystemFixture.AdminKey);
            Assert.Equal(422, status);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), path);
        }
    }

    [Fact]
    public async Task a_time_without_an_offset_is_utc_and_counts_agree_with_the_listing()
    {
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "agree@example.test") }, sendAt = DateTimeOffset.UtcNow.AddDays(1),
        });
        var created = (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).CreatedAt.UtcDateTime;
        foreach (var from in new[] { created.ToString("O"), created.ToString("yyyy-MM-ddTHH:mm:ss.fffffff"), created.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm") })
        {
            var counts = await System.SendAsync<List<JobCount>>(HttpMethod.Get, $"/admin/jobs/counts?from={Uri.EscapeDataString(from)}", SystemFixture.AdminKey, expect: 200);
            var listed = await SystemFixture.BodyOf(await System.ScenarioAsync(HttpMethod.Get, $"/admin/jobs?from={Uri.EscapeDataString(from)}", SystemFixture.AdminKey, expect: 200));
            Assert.Equal([new JobCount(System.Email.Name, JobState.Scheduled, 1)], counts);
            Assert.Equal(1, listed.GetProperty("items").GetArrayLength());
        }
    }
}
