using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace NotificationService.Core.Tests.Admin;

/// <summary>
/// GET /admin/services, /admin/adapters and /admin/invites page by cursor when asked (limit, after; the next page in a
/// Link header), and answer the whole list as before when not. Other tests' rows share the lists: each test checks its
/// own rows, named with a prefix that sorts first.
/// </summary>
public sealed partial class when_an_admin_pages_a_long_list(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>Follows the Link rel="next" from <paramref name="first"/> until there is none or <paramref name="enough"/> holds.</summary>
    private async Task<List<(List<JsonElement> Items, string? Next)>> WalkAsync(string first, Func<List<JsonElement>, bool>? enough = null)
    {
        var pages = new List<(List<JsonElement>, string?)>();
        for (var url = first; url is not null;)
        {
            var result = await System.ScenarioAsync(HttpMethod.Get, url, SystemFixture.AdminKey, expect: 200);
            var items = (await SystemFixture.BodyOf(result)).EnumerateArray().ToList();
            string? next = null;
            if (result.Context.Response.Headers.Link.ToString() is { Length: > 0 } link)
            {
                var match = NextLink().Match(link);
                Assert.True(match.Success, link);
                next = match.Groups[1].Value;
            }
            pages.Add((items, next));
            if (enough?.Invoke(pages.SelectMany(p => p.Item1).ToList()) == true) break;
            url = next;
            Assert.True(pages.Count < 500, "the walk does not end");
        }
        return pages;
    }

    [GeneratedRegex("^<(/admin/[a-z-]+\\?[^>]+)>; rel=\"next\"$")]
    private static partial Regex NextLink();

    private static string Name(JsonElement e) => e.GetProperty("name").GetString()!;

    [Fact]
    public async Task services_page_by_name_and_the_whole_list_stays_as_it_was()
    {
        // '!' sorts before every letter and digit (and before other tests' names) in the database's C collation.
        var prefix = $"!paging {Guid.NewGuid():N}";
        var names = new[] { "e", "a", "d", "b", "c" }.Select(s => $"{prefix} {s}").ToArray();
        foreach (var name in names) await System.CreateTenantAsync(name);
        var mine = names.Order(StringComparer.Ordinal).ToList();

        var pages = await WalkAsync("/admin/services?limit=2", seen => mine.All(n => seen.Any(s => Name(s) == n)));
        Assert.All(pages, p => Assert.InRange(p.Items.Count, 1, 2));
        Assert.All(pages.SkipLast(1), p => Assert.StartsWith("/admin/services?limit=2&after=", p.Next));
        Assert.Equal(mine, pages.SelectMany(p => p.Items).Select(Name).Where(n => n.StartsWith(prefix)).ToList());
        Assert.True(pages.Count >= 3, "five rows at two a page take three pages at least");

        // To the end: every service once, in the whole list's order, and the last page has no Link.
        var all = await WalkAsync("/admin/services?limit=7");
        Assert.Null(all[^1].Next);
        var whole = await System.SendAsync<List<JsonElement>>(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(whole.Select(s => s.GetProperty("id").GetGuid()), all.SelectMany(p => p.Items).Select(s => s.GetProperty("id").GetGuid()));
        Assert.Equal(mine, whole.Select(Name).Where(n => n.StartsWith(prefix)).ToList());
        // The keys come with each page's services, as with the whole list's.
        Assert.All(pages.SelectMany(p => p.Items).Where(s => Name(s).StartsWith(prefix)), s => Assert.Single(s.GetProperty("keys").EnumerateArray()));
    }

    [Fact]
    public async Task adapters_page_by_name()
    {
        // A digit sorts before the letters other tests' adapter names start with.
        var prefix = $"0paging{Guid.NewGuid():N}"[..20];
        var names = new[] { "c", "a", "b" }.Select(s => $"{prefix}-{s}").ToArray();
        foreach (var name in names) await System.CreateEmailAdapterAsync(name, System.Smtp.Port);

        var pages = await WalkAsync("/admin/adapters?limit=1", seen => names.All(n => seen.Any(a => Name(a) == n)));
        Assert.All(pages, p => Assert.Single(p.Items));
        Assert.Equal(names.Order(StringComparer.Ordinal), pages.SelectMany(p => p.Items).Select(Name).Where(n => n.StartsWith(prefix)));
        Assert.All(pages.SelectMany(p => p.Items), a => Assert.True(a.TryGetProperty("live", out _)));
        var all = await WalkAsync(pages[0].Next!.Replace("limit=1", "limit=200"));
        Assert.Null(all[^1].Next);
    }

    [Fact]
    public async Task invites_page_newest_first()
    {
        var notes = new[] { "first", "second", "third" }.Select(n => $"paging {Guid.NewGuid():N} {n}").ToArray();
        foreach (var note in notes) await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/invites", SystemFixture.AdminKey, new { note }, expect: 201);

        var pages = await WalkAsync("/admin/invites?limit=1", seen => notes.All(n => seen.Any(i => i.GetProperty("note").GetString() == n)));
        Assert.All(pages, p => Assert.Single(p.Items));
        Assert.Equal(notes.Reverse(), pages.SelectMany(p => p.Items).Select(i => i.GetProperty("note").GetString()).Where(notes.Contains));
        var whole = await System.SendAsync<List<JsonElement>>(HttpMethod.Get, "/admin/invites", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(notes.Reverse(), whole.Select(i => i.GetProperty("note").GetString()).Where(notes.Contains));
    }

    [Theory]
    [InlineData("/admin/services?limit=0", "limit")]
    [InlineData("/admin/services?limit=201", "limit")]
    [InlineData("/admin/adapters?limit=ten", "limit")]
    [InlineData("/admin/invites?limit=-1", "limit")]
    [InlineData("/admin/services?after=nonsense", "after")]
    [InlineData("/admin/adapters?limit=5&after=", "after")]
    [InlineData("/admin/invites?after=AAAA", "after")]
    [InlineData("/admin/services?limit=99999999999", "limit")]
    [InlineData("/admin/services?limit=1&limit=2", "limit")]
    [InlineData("/admin/adapters?limit=", "limit")]
    public async Task a_bad_limit_or_cursor_is_a_422_naming_it(string url, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, url, SystemFixture.AdminKey);
        Assert.Equal(422, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task the_whole_list_has_no_link_and_a_capitalised_after_is_replaced_in_the_next_link()
    {
        var whole = await System.ScenarioAsync(HttpMethod.Get, "/admin/services", SystemFixture.AdminKey, expect: 200);
        Assert.Equal("", whole.Context.Response.Headers.Link.ToString());

        await System.CreateTenantAsync($"!paging {Guid.NewGuid():N}");
        await System.CreateTenantAsync($"!paging {Guid.NewGuid():N}");
        await System.CreateTenantAsync($"!paging {Guid.NewGuid():N}");
        var first = await WalkAsync("/admin/services?limit=1", seen => seen.Count >= 1);
        var cursor = QueryHelpers.ParseQuery(new Uri(new Uri("http://core"), first[0].Next!).Query)["after"].ToString();
        // The query's names bind case-insensitively, so 'After' is the cursor: the next Link must replace it, not keep it beside the new one.
        var second = await System.ScenarioAsync(HttpMethod.Get, $"/admin/services?limit=1&After={Uri.EscapeDataString(cursor)}", SystemFixture.AdminKey, expect: 200);
        var link = NextLink().Match(second.Context.Response.Headers.Link.ToString());
        Assert.True(link.Success, second.Context.Response.Headers.Link.ToString());
        var query = QueryHelpers.ParseQuery(new Uri(new Uri("http://core"), link.Groups[1].Value).Query);
        Assert.Single(query, q => string.Equals(q.Key, "after", StringComparison.OrdinalIgnoreCase));
        Assert.Single(query["after"]);
        Assert.NotEqual(cursor, query["after"].ToString());
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, link.Groups[1].Value, SystemFixture.AdminKey)).Status);
    }

    [Fact]
    public async Task a_cursor_of_another_list_is_refused()
    {
        await System.CreateTenantAsync($"!paging {Guid.NewGuid():N}");
        await System.CreateTenantAsync($"!paging {Guid.NewGuid():N}");
        var services = await WalkAsync("/admin/services?limit=1", seen => seen.Count >= 1);
        var cursor = Uri.EscapeDataString(QueryHelpers.ParseQuery(new Uri(new Uri("http://core"), services[0].Next!).Query)["after"]!);
        foreach (var other in new[] { "/admin/adapters", "/admin/invites" })
        {
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"{other}?limit=1&after={cursor}", SystemFixture.AdminKey);
            Assert.Equal(422, status);
            Assert.True(problem.GetProperty("errors").TryGetProperty("after", out _), problem.ToString());
        }
        var (deadLetters, lettersProblem) = await System.SendForStatusAsync(HttpMethod.Get, $"/admin/dead-letters?after={cursor}", SystemFixture.AdminKey);
        Assert.Equal(422, deadLetters);
        Assert.True(lettersProblem.GetProperty("errors").TryGetProperty("after", out _), lettersProblem.ToString());
        // Its own list takes it.
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/services?limit=1&after={cursor}", SystemFixture.AdminKey)).Status);
    }
}
