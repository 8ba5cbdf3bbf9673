using System.Text.Json;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Operations;

/// <summary>
/// GET /admin/dead-letters pages by cursor (after, next) as /admin/jobs does, newest first with the id breaking ties of
/// one sent time, the filters kept from page to page; page stays for the callers that came first.
/// </summary>
public sealed class when_an_operator_pages_dead_letters(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task the_next_pages_follow_by_cursor_and_ties_go_by_id()
    {
        var cause = $"paging walk {Guid.NewGuid()}";
        var now = DateTimeOffset.UtcNow;
        // Three at one instant, two a second earlier; and one of another failure that the filter leaves out.
        var rows = (await DeadLetterRows.InsertAsync(System.Email.Queue,
            [(Guid.NewGuid(), now), (Guid.NewGuid(), now), (Guid.NewGuid(), now), (Guid.NewGuid(), now.AddSeconds(-1)), (Guid.NewGuid(), now.AddSeconds(-1))], cause)).ToList();
        var other = await DeadLetterRows.InsertAsync(System.Email.Queue, [(Guid.NewGuid(), now)], $"other {Guid.NewGuid()}");
        try
        {
            var failure = (await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters/{rows[0]}", SystemFixture.AdminKey, expect: 200))
                .GetProperty("failure").GetString()!;
            var filter = $"failure={Uri.EscapeDataString(failure)}&exceptionType=NotificationService.Tests.InjectedPoison";
            // sent_at descending, then id descending (the id compared as PostgreSQL compares uuids: byte by byte, as their text).
            var expected = rows.Take(3).OrderByDescending(id => id.ToString(), StringComparer.Ordinal)
                .Concat(rows.Skip(3).OrderByDescending(id => id.ToString(), StringComparer.Ordinal)).ToList();

            var pages = new List<JsonElement>();
            for (string? after = null; pages.Count == 0 || after is not null;)
            {
                var page = await System.SendAsync<JsonElement>(HttpMethod.Get,
                    $"/admin/dead-letters?{filter}&pageSize=2{(after is null ? "" : $"&after={Uri.EscapeDataString(after)}")}", SystemFixture.AdminKey, expect: 200);
                pages.Add(page);
                after = page.GetProperty("next").GetString();
                Assert.True(pages.Count < 10, "the walk does not end");
            }
            Assert.Equal([2, 2, 1], pages.Select(p => p.GetProperty("items").GetArrayLength()));
            Assert.Equal(expected, pages.SelectMany(p => p.GetProperty("items").EnumerateArray()).Select(l => l.GetProperty("id").GetGuid()));
            Assert.All(pages, p => Assert.Equal(5, p.GetProperty("total").GetInt64()));
            Assert.Equal(1, pages[0].GetProperty("page").GetInt32());
            Assert.All(pages.Skip(1), p => Assert.Equal(JsonValueKind.Null, p.GetProperty("page").ValueKind));
            Assert.Equal(JsonValueKind.Null, pages[^1].GetProperty("next").ValueKind);

            // Without paging parameters: the first page as before, by number, and all five fit.
            var whole = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters?{filter}", SystemFixture.AdminKey, expect: 200);
            Assert.Equal(expected, whole.GetProperty("items").EnumerateArray().Select(l => l.GetProperty("id").GetGuid()));
            Assert.Equal(JsonValueKind.Null, whole.GetProperty("next").ValueKind);
            var second = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/admin/dead-letters?{filter}&pageSize=2&page=2", SystemFixture.AdminKey, expect: 200);
            Assert.Equal(expected.Skip(2).Take(2), second.GetProperty("items").EnumerateArray().Select(l => l.GetProperty("id").GetGuid()));

            var cursor = pages[0].GetProperty("next").GetString()!;
            foreach (var (query, field) in new[] { ($"page=2&after={Uri.EscapeDataString(cursor)}", "page"), ("after=nonsense", "after"), ($"after={Uri.EscapeDataString(cursor[..^2])}", "after") })
            {
                var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/dead-letters?{query}", SystemFixture.AdminKey);
                Assert.Equal(422, status);
                Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
            }
            // A dead-letter cursor is no other list's.
            var (services, _) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/services?after={Uri.EscapeDataString(cursor)}", SystemFixture.AdminKey);
            Assert.Equal(422, services);
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM {DeadLetterRows.WorkersTable} WHERE id IN ({string.Join(",", rows.Concat(other).Select(id => $"'{id}'"))})");
        }
    }
}
