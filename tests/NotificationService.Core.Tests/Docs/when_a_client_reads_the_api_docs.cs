using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NotificationService.Core.Tests.Docs;

/// <summary>
/// The OpenAPI document is the contract a client is written from, and /docs shows it without the internet: checked on
/// the document the core serves (the same one ./ns openapi writes to docs/openapi.json).
/// </summary>
public sealed partial class when_a_client_reads_the_api_docs(SystemFixture system) : IntegrationContext(system)
{
    private static readonly string[] Tags =
        ["Offers", "Jobs", "Adapters", "Services", "Invites", "Registration", "Callbacks", "Limits", "Retention", "Operations", "Templates", "Console"];
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    private Task<JsonElement> DocumentAsync() => System.SendAsync<JsonElement>(HttpMethod.Get, "/openapi/v1.json", key: null, expect: 200);

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject().SelectMany(path => path.Value.EnumerateObject()
            .Where(m => Methods.Contains(m.Name)).Select(m => (path.Name, m.Name, m.Value)));

    private static JsonElement Operation(JsonElement document, string path, string method) =>
        document.GetProperty("paths").GetProperty(path).GetProperty(method);

    private static string[] Statuses(JsonElement operation) =>
        operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToArray();

    private static string? SchemaRef(JsonElement response, string mediaType) =>
        response.GetProperty("content").GetProperty(mediaType).GetProperty("schema").TryGetProperty("$ref", out var r) ? r.GetString() : null;

    [Fact]
    public async Task every_operation_has_a_unique_camel_case_id_a_summary_a_description_and_one_known_tag()
    {
        var document = await DocumentAsync();
        var operations = Operations(document).ToList();
        Assert.True(operations.Count >= 45, $"only {operations.Count} operations");
        var ids = new List<string>();
        foreach (var (path, method, operation) in operations)
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            Assert.True(operation.TryGetProperty("operationId", out var id), $"{name} has no operationId");
            Assert.Matches(CamelCase(), id.GetString()!);
            ids.Add(id.GetString()!);
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("summary").GetString()), $"{name} has no summary");
            Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("description").GetString()), $"{name} has no description");
            var tags = operation.GetProperty("tags").EnumerateArray().Select(t => t.GetString()).ToList();
            Assert.True(tags.Count == 1 && Tags.Contains(tags[0]), $"{name} is tagged [{string.Join(", ", tags)}]");
        }
        Assert.Empty(ids.GroupBy(i => i).Where(g => g.Count() > 1).Select(g => g.Key));
        Assert.Equal("createOffer", Operation(document, "/v1/offers", "post").GetProperty("operationId").GetString());
        // The sidebar's groups are the areas, each described, not C# classes.
        var declared = document.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.All(declared, t => Assert.Contains(t, Tags));
    }

    [Fact]
    public async Task admin_operations_need_an_admin_key_client_operations_a_service_key_and_register_and_console_sign_in_none()
    {
        var document = await DocumentAsync();
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        foreach (var scheme in new[] { "adminKey", "serviceKey" })
        {
            Assert.Equal("http", schemes.GetProperty(scheme).GetProperty("type").GetString());
            Assert.Equal("bearer", schemes.GetProperty(scheme).GetProperty("scheme").GetString());
        }
        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            var security = operation.GetProperty("security").EnumerateArray().SelectMany(r => r.EnumerateObject().Select(p => p.Name)).ToList();
            if (path == "/v1/register")
            {
                Assert.Empty(security);
                Assert.DoesNotContain("401", Statuses(operation));
                continue;
            }
            if (path == "/console/session") // the key in the body signs in; the session cookie is the credential afterwards
            {
                Assert.Empty(security);
                continue;
            }
            Assert.Equal([path.StartsWith("/admin/") ? "adminKey" : "serviceKey"], security);
            Assert.Contains("401", Statuses(operation));
            Assert.Contains("403", Statuses(operation));
        }
    }

    [Fact]
    public async Task every_response_has_its_real_schema_and_every_error_a_problem_schema()
    {
        var document = await DocumentAsync();
        Assert.DoesNotContain("ValueTupleOf", document.GetRawText());

        var accepted = Operation(document, "/v1/offers", "post").GetProperty("responses").GetProperty("202");
        Assert.Equal("#/components/schemas/OfferAccepted", SchemaRef(accepted, "application/json"));
        Assert.True(accepted.GetProperty("headers").TryGetProperty("Location", out _));
        Assert.Equal("#/components/schemas/AdapterCreated",
            SchemaRef(Operation(document, "/admin/adapters", "post").GetProperty("responses").GetProperty("201"), "application/json"));
        Assert.Equal("#/components/schemas/CancelRequested",
            SchemaRef(Operation(document, "/v1/jobs/{id}/cancel", "post").GetProperty("responses").GetProperty("202"), "application/json"));

        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            var statuses = Statuses(operation);
            // 404 exactly where the route names something; 422 and 413 wherever there is a body.
            Assert.True(path.Contains('{') == statuses.Contains("404"), $"{name}: 404 listed {statuses.Contains("404")}");
            if (operation.TryGetProperty("requestBody", out _))
            {
                Assert.Contains("422", statuses);
                Assert.Contains("413", statuses);
            }
            foreach (var status in statuses.Where(s => s.StartsWith('4')))
            {
                var expected = status == "422" ? "ValidationProblemDetails" : "ProblemDetails";
                Assert.Equal($"#/components/schemas/{expected}",
                    SchemaRef(operation.GetProperty("responses").GetProperty(status), "application/problem+json"));
            }
        }
        var errors = document.GetProperty("components").GetProperty("schemas").GetProperty("ValidationProblemDetails").GetProperty("properties");
        Assert.True(errors.TryGetProperty("errors", out _));

        var createOffer = Operation(document, "/v1/offers", "post").GetProperty("responses");
        Assert.True(createOffer.GetProperty("429").GetProperty("headers").TryGetProperty("Retry-After", out _));
        Assert.Contains("409", Statuses(Operation(document, "/v1/jobs/{id}/cancel", "post")));
    }

    [Fact]
    public async Task an_offer_needs_only_its_targets_and_params_is_an_object_checked_against_the_adapter()
    {
        // Params are not required in the document: a target gives params or a template, checked per target.
        var schemas = (await DocumentAsync()).GetProperty("components").GetProperty("schemas");
        var offer = schemas.GetProperty("CreateOffer");
        Assert.Equal(["targets"], offer.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        var target = schemas.GetProperty("OfferTarget");
        Assert.Equal(["adapter"], target.GetProperty("required").EnumerateArray().Select(r => r.GetString()).Order());
        var parameters = target.GetProperty("properties").GetProperty("params");
        Assert.Equal("object", parameters.GetProperty("type").GetString());
        Assert.Contains("GET /v1/adapters", parameters.GetProperty("description").GetString());
        // No response schema requires a field that may be null (JobView met that first as another type's property); a
        // request's required field is nullable in C# only so that leaving it out is a 422 naming it rather than a 400.
        var requests = RequestBodies(await DocumentAsync()).Select(b => b.Schema).Append("OfferTarget").Append("FallbackStep").ToHashSet();
        foreach (var schema in schemas.EnumerateObject())
        {
            if (!schema.Value.TryGetProperty("required", out var required)) continue;
            foreach (var field in required.EnumerateArray().Select(f => f.GetString()!))
                if (schema.Value.GetProperty("properties").GetProperty(field).TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.Array)
                    Assert.True(requests.Contains(schema.Name) || !type.EnumerateArray().Any(t => t.GetString() == "null"),
                        $"{schema.Name}.{field} is nullable and required");
        }
        // The example is a working offer to an email adapter.
        var example = offer.GetProperty("examples")[0].GetProperty("targets")[0];
        Assert.Equal("you@example.test", example.GetProperty("params").GetProperty("to").GetString());
        // Enums are named schemas with their string values.
        var state = schemas.GetProperty("JobState");
        Assert.Equal("string", state.GetProperty("type").GetString());
        Assert.Contains("Finished", state.GetProperty("enum").EnumerateArray().Select(v => v.GetString()));
    }

    /// <summary>Each operation with a JSON body: its id and the component schema of the body.</summary>
    private static IEnumerable<(string OperationId, string Schema)> RequestBodies(JsonElement document) =>
        Operations(document).Where(o => o.Operation.TryGetProperty("requestBody", out _)).Select(o => (
            o.Operation.GetProperty("operationId").GetString()!,
            o.Operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema")
                .GetProperty("$ref").GetString()!.Split('/')[^1]));

    [Fact]
    public async Task a_body_field_is_required_in_the_document_exactly_when_leaving_it_out_is_a_422_naming_it()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        var tenant = await System.CreateTenantAsync($"required-{Guid.NewGuid():N}"[..30]);
        await System.SendAsync<JsonElement>(HttpMethod.Post, "/v1/callbacks", tenant.ApiKey, new { url = "https://example.com/hooks" }, expect: 201);
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var scheduled = await System.CreateOfferAsync(tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "a@example.test") }, sendAt = later });
        var idle = await System.CreateEmailAdapterAsync($"required-{Guid.NewGuid():N}"[..30], 9);
        var emailConfig = new { host = "127.0.0.1", port = 2525, security = "none", from = "ns@example.test" };
        string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..30];
        var template = Unique("required");
        await System.SendAsync<JsonElement>(HttpMethod.Post, "/v1/templates", tenant.ApiKey,
            new { key = template, type = "sms", defaultLocale = "en", variants = new { en = new { to = "+15550001111", text = "Hi {{ name }}" } } }, expect: 201);
        // A valid body with every field of its schema (a field the test does not know fails it below), and where it goes.
        var bodies = new Dictionary<string, Func<Task<(HttpMethod Method, string Url, string? Key, object Body)>>>
        {
            ["createOffer"] = () => Task.FromResult((HttpMethod.Post, "/v1/offers", (string?)tenant.ApiKey, (object)new
            {
                targets = new[] { ClientApi.EmailTarget(System.Email.Name, "a@example.test") }, expireAt = later.AddDays(1), sendAt = later,
                metadata = new { k = "v" }, callbackUrl = "https://example.com/offer-hooks",
            })),
            ["updateOffer"] = () => Task.FromResult((HttpMethod.Patch, $"/v1/offers/{scheduled.Id}", (string?)tenant.ApiKey, (object)new
            {
                expireAt = later.AddDays(2), sendAt = later.AddMinutes(5), metadata = new { k = "w" },
                jobs = new[] { new { id = scheduled.Jobs[0].Id, @params = new { to = "b@example.test", subject = "Hello", text = "Hi" } } },
            })),
            ["createCallback"] = () => Task.FromResult((HttpMethod.Post, "/v1/callbacks", (string?)tenant.ApiKey, (object)new { url = "https://example.com/more", events = new[] { "finished" } })),
            ["adminCreateCallback"] = () => Task.FromResult((HttpMethod.Post, $"/admin/services/{tenant.Id}/callbacks", (string?)SystemFixture.AdminKey,
                (object)new { url = "https://example.com/admin", events = new[] { "failed" } })),
            ["createAdapter"] = () => Task.FromResult((HttpMethod.Post, "/admin/adapters", (string?)SystemFixture.AdminKey, (object)new
            {
                name = Unique("required"), type = "email", config = emailConfig, paramsSchema = (object?)null, services = new[] { tenant.Id }, policy = (object?)null,
            })),
            ["updateAdapter"] = () => Task.FromResult((HttpMethod.Patch, $"/admin/adapters/{idle.Id}", (string?)SystemFixture.AdminKey, (object)new
            {
                config = new { from = "docs@example.test" }, paramsSchema = (object?)null, services = new[] { tenant.Id }, policy = (object?)null,
            })),
            ["createService"] = () => Task.FromResult((HttpMethod.Post, "/admin/services", (string?)SystemFixture.AdminKey, (object)new { name = Unique("required") })),
            ["updateService"] = () => Task.FromResult((HttpMethod.Patch, $"/admin/services/{tenant.Id}", (string?)SystemFixture.AdminKey, (object)new { name = Unique("renamed") })),
            ["setServiceRetention"] = () => Task.FromResult((HttpMethod.Patch, $"/admin/services/{tenant.Id}/retention", (string?)SystemFixture.AdminKey,
                (object)new { paramsDays = 30, jobsDays = 90, idempotencyDays = 1 })),
            ["setServiceLimits"] = () => Task.FromResult((HttpMethod.Patch, $"/admin/services/{tenant.Id}/limits", (string?)SystemFixture.AdminKey, (object)new
            {
                offersPerSecond = (int?)null, burst = (int?)null, jobsPerOffer = (int?)null, pendingJobs = (int?)null, maxBodyBytes = (int?)null, maxParamsBytes = (int?)null,
            })),
            ["createInvite"] = () => Task.FromResult((HttpMethod.Post, "/admin/invites", (string?)SystemFixture.AdminKey, (object)new { note = "docs", expiresInHours = 1.0 })),
            ["register"] = async () =>
            {
                var invite = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/invites", SystemFixture.AdminKey, new { }, expect: 201);
                return (HttpMethod.Post, "/v1/register", null, new { name = Unique("registered"), inviteCode = invite.GetProperty("code").GetString() });
            },
            ["signInToConsole"] = () => Task.FromResult((HttpMethod.Post, "/console/session", (string?)null, (object)new { key = SystemFixture.AdminKey })),
            ["eraseRecipient"] = () => Task.FromResult((HttpMethod.Post, "/admin/erasures", (string?)SystemFixture.AdminKey, (object)new { recipient = "nobody@example.test" })),
            ["createTemplate"] = () => Task.FromResult((HttpMethod.Post, "/v1/templates", (string?)tenant.ApiKey, (object)new
            {
                key = Unique("required"), type = "sms", defaultLocale = "en", variants = new { en = new { to = "+15550001111", text = "Hi {{ name }}" } },
            })),
            ["updateTemplate"] = () => Task.FromResult((HttpMethod.Patch, $"/v1/templates/{template}", (string?)tenant.ApiKey, (object)new
            {
                variants = new { de = new { to = "+15550001111", text = "Hallo {{ name }}" } }, defaultLocale = "de",
            })),
            ["previewTemplate"] = () => Task.FromResult((HttpMethod.Post, $"/v1/templates/{template}/preview", (string?)tenant.ApiKey, (object)new
            {
                locale = "de-AT", data = new { name = "Ada" }, adapter = (string?)null,
            })),
            ["createSharedTemplate"] = () => Task.FromResult((HttpMethod.Post, "/admin/templates", (string?)SystemFixture.AdminKey, (object)new
            {
                key = Unique("required"), type = "sms", defaultLocale = "en", variants = new { en = new { to = "+15550001111", text = "Hi" } }, services = new[] { tenant.Id },
            })),
            // Selections that match nothing: without dryRun they act on nothing (and record an empty operation).
            ["replayDeadLetters"] = () => Task.FromResult((HttpMethod.Post, "/admin/dead-letters/replay", (string?)SystemFixture.AdminKey, (object)new
            {
                ids = new[] { Guid.NewGuid() }, adapter = idle.Name, messageType = "x", exceptionType = "x", failure = "x", from = later.AddDays(-1), to = later, dryRun = true,
            })),
            ["discardDeadLetters"] = () => Task.FromResult((HttpMethod.Post, "/admin/dead-letters/discard", (string?)SystemFixture.AdminKey, (object)new
            {
                ids = new[] { Guid.NewGuid() }, adapter = idle.Name, messageType = "x", exceptionType = "x", failure = "x", from = later.AddDays(-1), to = later, dryRun = true,
            })),
            ["redriveJobs"] = () => Task.FromResult((HttpMethod.Post, "/admin/jobs/redrive", (string?)SystemFixture.AdminKey, (object)new
            {
                adapter = idle.Name, service = tenant.Id, state = "Failed", from = later.AddDays(-1), to = later, dryRun = true,
            })),
        };

        var operations = RequestBodies(document).ToList();
        Assert.Equal(bodies.Keys.Order(), operations.Select(o => o.OperationId).Order()); // a new body operation joins this test
        var mismatches = new List<string>();
        foreach (var (operationId, schemaName) in operations)
        {
            var schema = schemas.GetProperty(schemaName);
            var declared = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(f => f.GetString()!).ToHashSet() : [];
            var fields = schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToList();
            var (method, url, key, full) = await bodies[operationId]();
            var body = JsonSerializer.SerializeToNode(full, SystemFixture.Json)!.AsObject();
            Assert.Equal(fields.Order(), body.Select(p => p.Key).Order());
            var (fullStatus, fullProblem) = await System.SendForStatusAsync(method, url, key, body);
            Assert.True(fullStatus is >= 200 and < 300, $"{operationId}: the whole body gave {fullStatus} {fullProblem}");
            foreach (var field in fields)
            {
                (method, url, key, full) = await bodies[operationId]();
                var without = JsonSerializer.SerializeToNode(full, SystemFixture.Json)!.AsObject();
                without.Remove(field);
                var (status, problem) = await System.SendForStatusAsync(method, url, key, without);
                var refused = status == 422 && problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _);
                Assert.True(refused || status is >= 200 and < 300, $"{operationId} without {field}: {status} {problem}");
                if (refused != declared.Contains(field))
                    mismatches.Add($"{operationId}.{field}: {(refused ? "refused when missing, not required in the document" : "required in the document, accepted when missing")}");
            }
        }
        Assert.Empty(mismatches);
    }

    [Fact]
    public async Task the_job_search_parameters_are_typed_and_metadata_filters_and_callback_values_are_described()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        var parameters = Operation(document, "/v1/jobs", "get").GetProperty("parameters").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("schema"));
        Assert.Equal("#/components/schemas/JobState", parameters["state"].GetProperty("$ref").GetString());
        Assert.Equal("integer", parameters["limit"].GetProperty("type").GetString());
        Assert.Equal((1, 200, 50), (parameters["limit"].GetProperty("minimum").GetInt32(), parameters["limit"].GetProperty("maximum").GetInt32(),
            parameters["limit"].GetProperty("default").GetInt32()));
        Assert.Equal("uuid", parameters["offerId"].GetProperty("format").GetString());
        Assert.Equal("date-time", parameters["createdFrom"].GetProperty("format").GetString());
        Assert.Equal("date-time", parameters["createdTo"].GetProperty("format").GetString());
        // metadata.<key> cannot be a declared parameter; the operation describes it for a generator's template.
        foreach (var path in new[] { "/v1/jobs", "/v1/offers" })
        {
            var filters = Operation(document, path, "get").GetProperty("x-metadata-filters");
            Assert.Equal("metadata.", filters.GetProperty("namePrefix").GetString());
            Assert.Equal(10, filters.GetProperty("maxFilters").GetInt32());
        }
        var events = schemas.GetProperty("CallbackEventName").GetProperty("enum").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(["scheduled", "queued", "started", "attemptFailed", "finished", "failed", "expired", "canceled"], events);
        foreach (var schema in new[] { "CreateCallback", "CallbackCreated", "CallbackView" })
            Assert.Equal("#/components/schemas/CallbackEventName",
                schemas.GetProperty(schema).GetProperty("properties").GetProperty("events").GetProperty("items").GetProperty("$ref").GetString());
        Assert.Equal(["delivered", "failed", "gaveUp", "skipped"], schemas.GetProperty("CallbackDeliveryOutcome").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("#/components/schemas/CallbackDeliveryOutcome",
            schemas.GetProperty("CallbackDeliveryView").GetProperty("properties").GetProperty("outcome").GetProperty("$ref").GetString());
    }

    [Fact]
    public async Task the_docs_page_loads_its_script_from_the_app_and_nothing_from_the_internet()
    {
        var html = await (await System.ScenarioAsync(HttpMethod.Get, "/docs/", key: null, expect: 200)).ReadAsTextAsync();
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("http://", html);

        var scripts = ScriptSource().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(scripts);
        foreach (var script in scripts)
        {
            var js = await System.ScenarioAsync(HttpMethod.Get, new Uri(new Uri("http://localhost/docs/"), script).PathAndQuery, key: null, expect: 200);
            Assert.True((await js.ReadAsTextAsync()).Length > 1000, $"{script} is empty");
        }
        // Nothing that calls out: no AI agent or MCP, no telemetry, no CDN fonts, no developer tools (Deploy, Generate SDK).
        Assert.Matches(@"""telemetry"":\s*false", html);
        Assert.Matches(@"""withDefaultFonts"":\s*false", html);
        Assert.Matches(@"""agent"":\s*\{\s*""disabled"":\s*true", html);
        Assert.Matches(@"""mcp"":\s*\{\s*""disabled"":\s*true", html);
        Assert.Matches(@"""showDeveloperTools"":\s*""never""", html);
        // A person sends requests with their key: the service key's scheme is the one offered first.
        Assert.Matches(@"""preferredSecurityScheme"":\s*\[""serviceKey""\]", html);
    }

    [GeneratedRegex("^[a-z][a-zA-Z0-9]+$")]
    private static partial Regex CamelCase();

    [GeneratedRegex(@"<script[^>]*\ssrc=""([^""]+)""")]
    private static partial Regex ScriptSource();
}
