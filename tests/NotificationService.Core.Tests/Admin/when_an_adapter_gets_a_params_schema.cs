using System.Text.Json;

namespace NotificationService.Core.Tests.Admin;

/// <summary>A params schema is stored only if it is a valid JSON Schema: NJsonSchema alone accepts {"type":"banana"} as "anything".</summary>
public sealed class when_an_adapter_gets_a_params_schema(SystemFixture system) : IntegrationContext(system)
{
    private const string Secret = "webhook-secret-0123456789";
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    [Theory]
    [InlineData("""{"type":"banana"}""", "paramsSchema.type")]
    [InlineData("""{"type":"object","properties":{"to":{"type":"strin"}}}""", "paramsSchema.properties.to.type")]
    [InlineData("""{"type":"object","required":"to"}""", "paramsSchema.required")]
    [InlineData("""{"type":"object","properties":{"to":{"type":"string","pattern":"(["}}}""", "paramsSchema.properties.to.pattern")]
    [InlineData("""{"type":"object","properties":{"to":{"type":"string","minLength":-1}}}""", "paramsSchema.properties.to.minLength")]
    public async Task a_params_schema_that_is_not_a_valid_json_schema_is_refused_on_create_and_on_patch(string schema, string field)
    {
        var paramsSchema = JsonDocument.Parse(schema).RootElement;
        var (created, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name = UniqueName("schema"), type = "webhook", config = new { url = "http://127.0.0.1:9/in", secret = Secret }, paramsSchema,
        });
        Assert.Equal(422, created);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());

        var adapter = await System.CreateAdapterAsync(UniqueName("schema"), "webhook", new { url = "http://127.0.0.1:9/in", secret = Secret });
        var (patched, patchProblem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{adapter.Id}", SystemFixture.AdminKey, new { paramsSchema });
        Assert.Equal(422, patched);
        Assert.True(patchProblem.GetProperty("errors").TryGetProperty(field, out _), patchProblem.ToString());

        if (field == "paramsSchema.type")
            Assert.StartsWith("must be one of array, boolean, integer, null, number, object, string",
                patchProblem.GetProperty("errors").GetProperty(field)[0].GetString());

        // Offers are still validated against the adapter's schema.
        var (offer, _) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { new { adapter = adapter.Name, @params = new { nonsense = 1 } } } });
        Assert.Equal(422, offer);
    }

    [Fact]
    public async Task a_valid_schema_with_draft_07_keywords_and_local_references_is_stored_and_applied()
    {
        var paramsSchema = JsonDocument.Parse("""
            {"type":"object","required":["payload"],"additionalProperties":false,
             "definitions":{"count":{"type":"integer","exclusiveMinimum":0}},
             "properties":{"payload":{"type":"object","properties":{"n":{"$ref":"#/definitions/count"}},"patternProperties":{"^x-":{"type":"string"}}}}}
            """).RootElement;
        var (status, created) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name = UniqueName("schema"), type = "webhook", config = new { url = "http://127.0.0.1:9/in", secret = Secret }, paramsSchema,
        });
        Assert.True(status == 201, created.ToString());
        var name = created.GetProperty("name").GetString();

        var (refused, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { new { adapter = name, @params = new { payload = new { n = 0 } } } } });
        Assert.Equal(422, refused);
        Assert.True(problem.GetProperty("errors").TryGetProperty("targets[0].params.payload.n", out _), problem.ToString());

        var (external, externalProblem) = await System.SendForStatusAsync(HttpMethod.Patch, $"/admin/adapters/{created.GetProperty("id").GetGuid()}",
            SystemFixture.AdminKey, new { paramsSchema = new Dictionary<string, object> { ["$ref"] = "http://127.0.0.1:9/schema.json" } });
        Assert.Equal(422, external);
        Assert.True(externalProblem.GetProperty("errors").TryGetProperty("paramsSchema.$ref", out _), externalProblem.ToString());
    }

    // The validator is shared across requests (JsonSchemas.Validator); built without its settings it has no format
    // validators, and an address that is not one passed.
    [Fact]
    public async Task a_format_in_the_schema_is_checked_in_every_offer()
    {
        var paramsSchema = JsonDocument.Parse("""
            {"type":"object","required":["to"],"properties":{"to":{"type":"string","format":"email"},"link":{"type":"string","format":"uri"}}}
            """).RootElement;
        var (status, created) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/adapters", SystemFixture.AdminKey, new
        {
            name = UniqueName("format"), type = "webhook", config = new { url = "http://127.0.0.1:9/in", secret = Secret }, paramsSchema,
        });
        Assert.True(status == 201, created.ToString());
        var name = created.GetProperty("name").GetString();

        for (var attempt = 0; attempt < 2; attempt++) // the second request meets the validator the first one used
        {
            var (refused, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new
            {
                targets = new object[]
                {
                    new { adapter = name, @params = new { to = "someone@example.test", link = "https://example.test/a" } },
                    new { adapter = name, @params = new { to = "not an address", link = "https://example.test/a" } },
                    new { adapter = name, @params = new { to = "someone@example.test", link = "not a uri" } },
                },
            });
            Assert.Equal(422, refused);
            var errors = problem.GetProperty("errors");
            Assert.Equal("must be an email address", errors.GetProperty("targets[1].params.to")[0].GetString());
            Assert.True(errors.TryGetProperty("targets[2].params.link", out _), problem.ToString());
            Assert.False(errors.TryGetProperty("targets[0].params.to", out _), problem.ToString());
        }
    }
}
