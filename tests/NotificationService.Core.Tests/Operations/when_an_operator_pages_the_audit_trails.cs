using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Retention;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Operations;

/// <summary>
/// GET /admin/operations and /admin/erasures page by cursor as /admin/jobs does (after, next; page stays), newest first
/// with the id breaking ties of one time, the kind filter kept from page to page.
/// </summary>
public sealed class when_an_operator_pages_the_audit_trails(SystemFixture system) : IntegrationContext(system)
{
    private async Task<List<JsonElement>> WalkAsync(string first, int pages)
    {
        var walked = new List<JsonElement>();
        string? after = null;
        do
        {
            var page = await System.SendAsync<JsonElement>(HttpMethod.Get, after is null ? first : $"{first}&after={Uri.EscapeDataString(after)}", SystemFixture.AdminKey, expect: 200);
            walked.Add(page);
            after = page.GetProperty("next").GetString();
        } while (after is not null && walked.Count < pages);
        return walked;
    }

    [Fact]
    public async Task operator_actions_page_by_cursor_within_their_kind()
    {
        var started = new List<Guid>();
        for (var i = 0; i < 3; i++)
            started.Add((await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/jobs/redrive", SystemFixture.AdminKey,
                new { state = "Failed", from = "2000-01-01T00:00:00Z", to = "2000-01-02T00:00:00Z", dryRun = false }, expect: 202)).GetProperty("operationId").GetGuid());

        var pages = await WalkAsync("/admin/operations?kind=Redrive&pageSize=1", 3);
        Assert.Equal(3, pages.Count);
        var items = pages.SelectMany(p => p.GetProperty("items").EnumerateArray()).ToList();
        Assert.Equal(Enumerable.Reverse(started), items.Select(o => o.GetProperty("id").GetGuid()));
        Assert.All(items, o => Assert.Equal("Redrive", o.GetProperty("kind").GetString()));
        Assert.Equal(1, pages[0].GetProperty("page").GetInt32());
        Assert.All(pages.Skip(1), p => Assert.Equal(JsonValueKind.Null, p.GetProperty("page").ValueKind));
        // The cursor's page is the one the page number gives.
        var third = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/operations?kind=Redrive&pageSize=1&page=3", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(started[0], third.GetProperty("items")[0].GetProperty("id").GetGuid());

        var cursor = Uri.EscapeDataString(pages[0].GetProperty("next").GetString()!);
        foreach (var (query, field) in new[] { ($"page=1&after={cursor}", "page"), ("after=%00", "after"), ("pageSize=0", "pageSize") })
        {
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/operations?{query}", SystemFixture.AdminKey);
            Assert.Equal(422, status);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }
        // An operations cursor is not the erasures' (nor the dead letters').
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/erasures?after={cursor}", SystemFixture.AdminKey)).Status);
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/dead-letters?after={cursor}", SystemFixture.AdminKey)).Status);
    }

    [Fact]
    public async Task erasures_of_one_instant_page_by_id()
    {
        // Three audit records of one instant, later than any real one, so they are the first page whatever else is there.
        var at = new DateTimeOffset(2199, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(1234567);
        var erasures = Enumerable.Range(0, 3).Select(_ => new Erasure { Id = Guid.NewGuid(), Kind = "email", By = "test", At = at }).ToList();
        var store = System.Core.Services.GetRequiredService<IDocumentStore>();
        await using (var session = store.LightweightSession())
        {
            session.Store(erasures.ToArray());
            await session.SaveChangesAsync();
        }
        try
        {
            var pages = await WalkAsync("/admin/erasures?pageSize=2", 2);
            var items = pages.SelectMany(p => p.GetProperty("items").EnumerateArray()).Select(e => e.GetProperty("id").GetGuid()).ToList();
            // Ties go by id, descending (PostgreSQL compares uuids as their text).
            Assert.Equal(erasures.Select(e => e.Id).OrderByDescending(id => id.ToString(), StringComparer.Ordinal), items.Take(3));
            Assert.Equal(2, pages[0].GetProperty("items").GetArrayLength());
            var byNumber = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/erasures?pageSize=2&page=2", SystemFixture.AdminKey, expect: 200);
            Assert.Equal(items[2], byNumber.GetProperty("items")[0].GetProperty("id").GetGuid());
            Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, "/admin/erasures?after=nonsense", SystemFixture.AdminKey)).Status);
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM ns.mt_doc_erasure WHERE id IN ({string.Join(",", erasures.Select(e => $"'{e.Id}'"))})");
        }
    }
}
