using System.Text.Json;
using NotificationService.Core.Adapters;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Admin;

public sealed class when_an_admin_manages_adapters(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task one_type_has_many_instances_and_all_of_them_are_listed_with_status_and_queue()
    {
        var types = await System.SendAsync<List<AdapterTypeView>>(HttpMethod.Get, "/admin/adapter-types", SystemFixture.AdminKey, expect: 200);
        var email = Assert.Single(types, t => t.Name == "email");
        Assert.Equal(["password"], email.SecretFields);
        Assert.Equal("object", email.ParamsSchema.GetProperty("type").GetString());

        var first = await System.CreateEmailAdapterAsync(UniqueName("smtp-a"), System.Smtp.Port);
        var second = await System.CreateEmailAdapterAsync(UniqueName("smtp-b"), System.Smtp.Port + 1);

        var all = await System.SendAsync<List<AdapterView>>(HttpMethod.Get, "/admin/adapters", SystemFixture.AdminKey, expect: 200);
        Assert.Contains(all, a => a.Id == first.Id && a.Queue == $"ns.adapter.{first.Name}" && a.Status.ToString() == "Active");
        Assert.Contains(all, a => a.Id == second.Id && a.Config.GetProperty("port").GetInt32() == System.Smtp.Port + 1);
    }

    [Fact]
    public async Task invalid_adapters_are_refused_naming_each_field()
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name = UniqueName("bad"), type = "email",
            config = new { host = "h", port = 70000, from = "x@example.test", colour = 1 },
            paramsSchema = new { type = "string" },
            services = new[] { Guid.NewGuid() },
            policy = new { maxAttempts = 0, initialBackoffSeconds = 1, maxBackoffSeconds = 10 },
        });
        Assert.Equal(422, status);
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "config.port", "config.colour", "paramsSchema", "services[0]", "policy.maxAttempts" })
            Assert.True(errors.TryGetProperty(field, out _), $"{field} missing in {problem}");

        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey,
            new { name = "x", type = "carrier-pigeon", config = new { } })).Status);
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey,
            new { name = System.Email.Name, type = "email", config = new { host = "h", port = 25, from = "a@b.test" } })).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{Guid.NewGuid()}", SystemFixture.AdminKey)).Status);
    }

    [Theory]
    [InlineData("webhook", "url")]
    [InlineData("sms", "baseUrl")]
    [InlineData("telegram", "apiBaseUrl")]
    public async Task an_http_channel_takes_only_http_and_https_urls(string type, string field)
    {
        object Config(string url) => type switch
        {
            "webhook" => new Dictionary<string, object> { ["url"] = url, ["secret"] = "a-secret-of-enough-length" },
            "sms" => new Dictionary<string, object> { ["baseUrl"] = url, ["accountSid"] = "AC1", ["authToken"] = "t", ["from"] = "+15550001111" },
            _ => new Dictionary<string, object> { ["apiBaseUrl"] = url, ["botToken"] = "4242:secret-bot-token" },
        };
        foreach (var url in new[] { "ftp://files.example.test/in", "file:///etc/passwd", "gopher://example.test/" })
        {
            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey,
                new { name = UniqueName(type), type, config = Config(url) });
            Assert.True(status == 422, $"{url}: {status} {problem}");
            Assert.Contains("http", problem.GetProperty("errors").GetProperty($"config.{field}")[0].GetString());
        }

        var adapter = await System.CreateAdapterAsync(UniqueName(type), type, Config("https://provider.example.test/api"));
        var (patched, patchProblem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey,
            new { config = Config("ftp://files.example.test/in") });
        Assert.True(patched == 422, $"{patched} {patchProblem}");
        Assert.True(patchProblem.GetProperty("errors").TryGetProperty($"config.{field}", out _), patchProblem.ToString());
    }

    [Fact]
    public async Task an_adapter_limited_to_some_services_is_invisible_and_unusable_to_the_others()
    {
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        var name = UniqueName("private");
        await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name, type = "email", config = new { host = "127.0.0.1", port = System.Smtp.Port, security = "none", from = "a@b.test" },
            services = new[] { System.Tenant.Id },
            paramsSchema = new { type = "object", required = new[] { "to", "subject", "text" }, additionalProperties = false,
                properties = new { to = new { type = "string", pattern = "@example\\.test$" }, subject = new { type = "string" }, text = new { type = "string" } } },
        }, expect: 201);

        var mine = await System.SendAsync<List<ClientAdapterView>>(HttpMethod.Get, "/v1/adapters", System.Tenant.ApiKey, expect: 200);
        var theirs = await System.SendAsync<List<ClientAdapterView>>(HttpMethod.Get, "/v1/adapters", other.ApiKey, expect: 200);
        Assert.Contains(mine, a => a.Name == name && a.ParamsSchema.GetProperty("required").GetArrayLength() == 3);
        Assert.DoesNotContain(theirs, a => a.Name == name);

        var (refused, _) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", other.ApiKey, new { targets = new[] { ClientApi.EmailTarget(name, "a@example.test") } });
        Assert.Equal(422, refused);
        // The admin narrowed the params schema: only @example.test addresses pass.
        var (narrowed, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new { targets = new[] { ClientApi.EmailTarget(name, "a@elsewhere.test") } });
        Assert.Equal(422, narrowed);
        Assert.True(problem.GetProperty("errors").TryGetProperty("targets[0].params.to", out _), problem.ToString());
    }

    [Fact]
    public async Task an_adapter_with_unfinished_jobs_cannot_be_deleted_and_its_history_outlives_it()
    {
        var idle = await System.CreateEmailAdapterAsync(UniqueName("doomed"), System.Smtp.Port);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(idle.Name, "q@example.test") } });

        var (conflict, problem) = await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/adapters/{idle.Id}", SystemFixture.AdminKey);
        Assert.Equal(409, conflict);
        Assert.Contains("1 unfinished", problem.GetProperty("detail").GetString());

        await System.CancelJobAsync(System.Tenant, offer.Jobs[0].Id);
        var updated = await System.SendAsync<AdapterView>(HttpMethod.Patch, $"/admin/adapters/{idle.Id}", SystemFixture.AdminKey,
            new { policy = new { maxAttempts = 2, initialBackoffSeconds = 1, maxBackoffSeconds = 5 } }, expect: 200);
        Assert.Equal(2, updated.Policy.MaxAttempts);
        Assert.Equal(200, (await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/adapters/{idle.Id}", SystemFixture.AdminKey)).Status);

        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Get, $"/admin/adapters/{idle.Id}", SystemFixture.AdminKey)).Status);
        var history = await System.SendAsync<List<HistoryEntry>>(HttpMethod.Get, $"/admin/adapters/{idle.Id}/history", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["AdapterRegistered", "AdapterReconfigured", "AdapterDeleted"], history.Select(h => h.Type));
        Assert.DoesNotContain("keyHash", JsonSerializer.Serialize(history), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(JobState.Canceled, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State);
    }
}
