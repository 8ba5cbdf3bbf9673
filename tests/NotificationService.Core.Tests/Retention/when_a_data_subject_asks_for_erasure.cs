using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Retention;

public sealed class when_a_data_subject_asks_for_erasure(SystemFixture system) : IntegrationContext(system)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Fact]
    public async Task erase_by_recipient_finds_and_erases_every_match_and_nothing_else()
    {
        var other = await System.CreateTenantAsync($"erasure-{Guid.NewGuid():N}");
        var matches = new[]
        {
            await JobAsync(System.Tenant, new { to = "Ann@Example.TEST", subject = "s", text = "t" }, metadata: new() { ["customer"] = "Ann" }), // case-insensitive
            await JobAsync(System.Tenant, new { to = new[] { "bob@example.test", "ann@example.test" }, subject = "s", text = "t" }), // in a list
            await JobAsync(System.Tenant, new { to = "Ann Example <ann@example.test>", subject = "s", text = "t" }), // display form
            await JobAsync(other, new { payload = new { customer = new { email = "ann@example.test" } } }),        // nested, another service
            await JobAsync(System.Tenant, new { to = "ann@example.test", subject = "s", text = "t" }, JobState.Queued), // not started: canceled, erased
        };
        var misses = new[]
        {
            await JobAsync(System.Tenant, new { to = "bob@example.test", subject = "s", text = "write to ann@example.test" }, metadata: new() { ["customer"] = "Bob" }), // free text
            await JobAsync(System.Tenant, new { to = "joann@example.test", subject = "s", text = "t" }),
        };
        var sending = await JobAsync(System.Tenant, new { to = "ann@example.test", subject = "s", text = "t" }, JobState.Started);

        var result = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, new { recipient = " ANN@example.test " }, expect: 200);

        Assert.Equal(5, result.GetProperty("erased").GetInt32());
        Assert.Equal([sending], result.GetProperty("notEnded").EnumerateArray().Select(e => e.GetGuid()));
        foreach (var jobId in matches)
        {
            Assert.Equal("""{"erased":true}""", await DocumentParamsAsync(jobId));
            Assert.All(await Seed.StoredParamsAsync(jobId), p => Assert.Equal("""{"erased": true}""", p));
        }
        Assert.Equal(JobState.Canceled, (await System.GetJobAsync(System.Tenant, matches[4])).State);
        foreach (var jobId in misses.Append(sending)) Assert.NotEqual("""{"erased":true}""", await DocumentParamsAsync(jobId));
        // The metadata of an offer goes with its last job's params; an offer that was not matched keeps it.
        Assert.Equal("null", await Sql.ScalarAsync<string>($"SELECT (o.data->'metadata')::text FROM ns.mt_doc_offer o JOIN ns.mt_doc_job j ON (j.data->>'offerId')::uuid = o.id WHERE j.id = '{matches[0]}'"));
        Assert.Contains("Bob", await Sql.ScalarAsync<string>($"SELECT (o.data->'metadata')::text FROM ns.mt_doc_offer o JOIN ns.mt_doc_job j ON (j.data->>'offerId')::uuid = o.id WHERE j.id = '{misses[0]}'"));

        // The audit record: who, when, how many; the recipient only as the SHA-256 of its normalised form.
        var audit = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/erasures", SystemFixture.AdminKey, expect: 200);
        var entry = audit.GetProperty("items").EnumerateArray().Single(e => e.GetProperty("id").GetGuid() == result.GetProperty("id").GetGuid());
        Assert.Equal(("email", 5), (entry.GetProperty("kind").GetString(), entry.GetProperty("erased").GetInt32()));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("email:ann@example.test"))), entry.GetProperty("recipientSha256").GetString());
        Assert.StartsWith("admin:", entry.GetProperty("by").GetString());
        Assert.DoesNotContain("ann@", audit.GetRawText(), StringComparison.OrdinalIgnoreCase);

        // Asked again: nothing more to erase, the job being sent is still reported.
        var again = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, new { recipient = "ann@example.test" }, expect: 200);
        Assert.Equal(0, again.GetProperty("erased").GetInt32());
    }

    [Fact]
    public async Task a_phone_number_matches_by_its_digits()
    {
        var matches = new[]
        {
            await JobAsync(System.Tenant, new { to = "+49 151 123-4567", text = "code 1234" }),
            await JobAsync(System.Tenant, new { payload = new { phone = 491511234567L } }),
        };
        var misses = new[]
        {
            await JobAsync(System.Tenant, new { to = "0151 1234567", text = "t" }),                  // national form: other digits
            await JobAsync(System.Tenant, new { to = "+1 555 0100", text = "call +491511234567" }), // free text
        };

        var result = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, new { recipient = "+491511234567" }, expect: 200);

        Assert.Equal(2, result.GetProperty("erased").GetInt32());
        foreach (var jobId in matches) Assert.Equal("""{"erased":true}""", await DocumentParamsAsync(jobId));
        foreach (var jobId in misses) Assert.NotEqual("""{"erased":true}""", await DocumentParamsAsync(jobId));
    }

    [Fact]
    public async Task a_job_whose_params_were_changed_is_found_by_the_recipient_it_had_before()
    {
        // Scheduled to one address, then changed to another: the first stays in the stream's JobScheduled event.
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "first-address@example.test") }, sendAt = DateTimeOffset.UtcNow.AddHours(1),
        });
        var jobId = offer.Jobs[0].Id;
        await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, new
        {
            jobs = new[] { new { id = jobId, @params = new { to = "second-address@example.test", subject = "s", text = "t" } } },
        }, expect: 200);

        var result = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, new { recipient = "first-address@example.test" }, expect: 200);

        Assert.Equal(1, result.GetProperty("erased").GetInt32());
        Assert.Equal(JobState.Canceled, (await System.GetJobAsync(System.Tenant, jobId)).State);
        Assert.All(await Seed.StoredParamsAsync(jobId), p => Assert.Equal("""{"erased": true}""", p));
        Assert.Equal(0L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.mt_events WHERE stream_id = '{jobId}' AND data::text LIKE '%first-address%'"));
    }

    [Theory]
    [InlineData("""{}""", 422, "recipient")]
    [InlineData("""{"recipient":"not an address"}""", 422, "recipient")]
    [InlineData("""{"recipient":"12345"}""", 422, "recipient")]
    [InlineData("""{"recipient":5}""", 400, "recipient")]
    [InlineData("""{"recipient":"a@b.test","extra":1}""", 400, "extra")]
    public async Task bad_input_is_a_problem_naming_the_field(string body, int status, string field)
    {
        var (actual, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, JsonDocument.Parse(body).RootElement);
        Assert.Equal(status, actual);
        Assert.Contains(field, problem.GetProperty("detail").GetString());
        Assert.Equal(403, (await System.SendForStatusAsync(HttpMethod.Post, "/admin/erasures", System.Tenant.ApiKey, new { recipient = "a@b.test" })).Status);
        Assert.Equal(422, (await System.SendForStatusAsync(HttpMethod.Get, "/admin/erasures?pageSize=0", SystemFixture.AdminKey)).Status);
    }

    [Fact]
    public async Task an_offer_erase_erases_its_jobs_and_metadata_and_cancels_what_has_not_started()
    {
        var delivered = await System.DeliverOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "erase-me@example.test") }, metadata = new { customer = "Ann" },
        });
        Assert.Equal(JobState.Finished, (await System.GetJobAsync(System.Tenant, delivered.Jobs[0].Id)).State);
        var scheduled = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "later@example.test") }, sendAt = DateTimeOffset.UtcNow.AddHours(1),
        });
        var before = await System.GetJobAsync(System.Tenant, delivered.Jobs[0].Id);

        var erased = await System.SendAsync<JsonElement>(HttpMethod.Post, $"/v1/offers/{delivered.Id}/erase", System.Tenant.ApiKey, expect: 200);
        var erasedScheduled = await System.SendAsync<JsonElement>(HttpMethod.Post, $"/v1/offers/{scheduled.Id}/erase", System.Tenant.ApiKey, expect: 200);

        Assert.Equal((1, 0), (erased.GetProperty("erased").GetInt32(), erased.GetProperty("notEnded").GetArrayLength()));
        var after = await System.GetJobAsync(System.Tenant, delivered.Jobs[0].Id);
        Assert.Equal("""{"erased":true}""", after.Params.GetRawText());
        Assert.Equal(before with { Params = after.Params }, after);
        Assert.All(await Seed.StoredParamsAsync(delivered.Jobs[0].Id), p => Assert.Equal("""{"erased": true}""", p));
        Assert.Equal("JobParamsErased", (await System.EventTypesAsync(System.Tenant, delivered.Jobs[0].Id)).Last());
        var offer = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{delivered.Id}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(JsonValueKind.Null, offer.GetProperty("metadata").ValueKind);
        var audit = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/erasures", SystemFixture.AdminKey, expect: 200);
        var entry = audit.GetProperty("items").EnumerateArray().Single(e => e.GetProperty("offerId").ValueKind != JsonValueKind.Null && e.GetProperty("offerId").GetGuid() == delivered.Id);
        Assert.Equal(("offer", 1, System.Tenant.Id, "service:acme"), (entry.GetProperty("kind").GetString(), entry.GetProperty("erased").GetInt32(),
            entry.GetProperty("serviceId").GetGuid(), entry.GetProperty("by").GetString()));

        Assert.Equal(1, erasedScheduled.GetProperty("erased").GetInt32());
        var canceled = await System.GetJobAsync(System.Tenant, scheduled.Jobs[0].Id);
        Assert.Equal((JobState.Canceled, """{"erased":true}"""), (canceled.State, canceled.Params.GetRawText()));

        // An erased offer takes no new metadata (it would never be erased again): 409.
        Assert.Equal(409, (await System.SendForStatusAsync(HttpMethod.Patch, $"/v1/offers/{delivered.Id}", System.Tenant.ApiKey,
            new { metadata = new Dictionary<string, string> { ["customer"] = "Ann again" } })).Status);

        // Again: already erased. Another service's offer: 404.
        var again = await System.SendAsync<JsonElement>(HttpMethod.Post, $"/v1/offers/{delivered.Id}/erase", System.Tenant.ApiKey, expect: 200);
        Assert.Equal((0, 1), (again.GetProperty("erased").GetInt32(), again.GetProperty("alreadyErased").GetInt32()));
        var other = await System.CreateTenantAsync($"erasure-{Guid.NewGuid():N}");
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Post, $"/v1/offers/{delivered.Id}/erase", other.ApiKey)).Status);
        Assert.Equal(404, (await System.SendForStatusAsync(HttpMethod.Post, $"/v1/offers/{Guid.NewGuid()}/erase", System.Tenant.ApiKey)).Status);
    }

    private async Task<Guid> JobAsync(Tenant tenant, object @params, JobState state = JobState.Finished, Dictionary<string, string>? metadata = null) =>
        (await System.OfferAsync(tenant, Now.AddDays(-2), Now.AddDays(-1), [new SeedJob(@params, state)], metadata)).JobIds[0];

    private static Task<string> DocumentParamsAsync(Guid jobId) => Sql.ScalarAsync<string>($"SELECT (data->'params')::text FROM ns.mt_doc_job WHERE id = '{jobId}'")
        .ContinueWith(t => t.Result.Replace(" ", ""));
}
