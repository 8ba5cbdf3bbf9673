using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.OutputCaching;
using Microsoft.OpenApi;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Callbacks;
using NotificationService.Core.Offers;
using Scalar.AspNetCore;

namespace NotificationService.Core.OpenApi;

/// <summary>
/// The OpenAPI document is the API's contract (checked in as docs/openapi.json, compared and linted by ./ns test), and
/// /docs renders it with Scalar, offline. Each endpoint names itself (OperationId, [Tags], [EndpointSummary],
/// [EndpointDescription], [ProducesResponseType] for its body and the errors of its own logic); what follows from the
/// route alone (which key it needs, 401/403, 400 for unreadable input, 404 on id routes, 413 for bodies) and the
/// shape of every problem body are added here, so an endpoint that follows those conventions needs nothing more.
/// </summary>
public static class ApiDocument
{
    public const string ServiceKey = "serviceKey";
    public const string AdminKey = "adminKey";

    /// <summary>The areas, in the order the sidebar shows them; a tag not listed here still works, only without a description.</summary>
    private static readonly (string Name, string Description)[] Areas =
    [
        ("Offers", "Send notifications: an offer holds one job per target (adapter and params)."),
        ("Jobs", "Follow and cancel the jobs of your offers; an operator reads and retries any job."),
        ("Callbacks", "Delivery-status callbacks: job events POSTed, signed, to your URL."),
        ("Adapters", "The delivery channels (email, Telegram, SMS, webhook, VK, Avito) and the params each one takes."),
        ("Templates", "Liquid templates per adapter type and locale, rendered into an offer's params at accept time; shared ones are granted by operators."),
        ("Limits", "Rate, quota and size limits per service."),
        ("Registration", "A person registers their service with an invite."),
        ("Services", "The client services and their API keys (operators)."),
        ("Invites", "Invites that let a person register a service (operators)."),
        ("Retention", "How long personal data is kept, and erasure on request (operators)."),
        ("Operations", "Running the system: projections and other maintenance (operators)."),
        ("Console", "The web console's session: an admin key signs in once, then a cookie (with a CSRF token for changes) stands in for it on /admin (operators)."),
    ];

    /// <summary>Routes that take no key: registration is authorized by its invite code (Register.cs), the console's sign-in by the key in its body.</summary>
    private static readonly string[] Anonymous = ["/v1/register", "/console/session"];

    public static IServiceCollection AddNotificationOpenApi(this IServiceCollection services) => services.AddOutputCache().AddOpenApi(o =>
    {
        o.AddSchemaTransformer(TransformSchema);
        o.AddDocumentTransformer(TransformDocument);
    });

    /// <summary>
    /// <c>/openapi/v1.json</c>, generated once per process and then served from the output cache. ASP.NET Core generates
    /// the document anew for every request, about 80 ms of CPU here, and the route needs no key: 13-15 requests a second
    /// from anyone kept the core's CPU busy and raised a tenant's accept p99 from 12 to 77-168 ms (bench/README.md).
    /// </summary>
    public static IEndpointConventionBuilder MapNotificationOpenApi(this IEndpointRouteBuilder app) =>
        app.MapOpenApi().CacheOutput(SameForEveryone.Instance); // needs app.UseOutputCache() in the pipeline

    /// <summary>
    /// The document depends on nothing in the request (its server is "/"), so one copy serves every host, query string and
    /// Authorization header: the default output-cache policy keys on the first two and skips a request with the third,
    /// any of which would let a client have the document generated on every request.
    /// </summary>
    private sealed class SameForEveryone : IOutputCachePolicy
    {
        public static readonly SameForEveryone Instance = new();

        public ValueTask CacheRequestAsync(OutputCacheContext context, CancellationToken ct)
        {
            var cacheable = HttpMethods.IsGet(context.HttpContext.Request.Method); // the only method MapOpenApi maps
            context.EnableOutputCaching = true;
            context.AllowCacheLookup = cacheable;
            context.AllowCacheStorage = cacheable;
            context.AllowLocking = true; // requests that miss together wait for one generation
            context.CacheVaryByRules.VaryByHost = false;
            context.ResponseExpirationTimeSpan = TimeSpan.FromDays(1); // the document changes only with a new build, i.e. a new process
            return ValueTask.CompletedTask;
        }

        public ValueTask ServeFromCacheAsync(OutputCacheContext context, CancellationToken ct) => ValueTask.CompletedTask;

        public ValueTask ServeResponseAsync(OutputCacheContext context, CancellationToken ct)
        {
            if (context.HttpContext.Response.StatusCode != StatusCodes.Status200OK) context.AllowCacheStorage = false;
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Scalar from the app's own files: no CDN, fonts, telemetry or features that call out to the internet.</summary>
    public static IEndpointConventionBuilder MapNotificationDocs(this IEndpointRouteBuilder app) =>
        app.MapScalarApiReference("/docs", o => o
            .WithTitle("Notification Service API")
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .DisableMcp()
            .HideDeveloperTools() // its Deploy, Share and Generate SDK go to Scalar's hosted services
            .AddPreferredSecuritySchemes(ServiceKey)
            .WithDefaultHttpClient(ScalarTarget.Shell, ScalarClient.Curl));

    private static Task TransformSchema(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken ct)
    {
        var type = context.JsonTypeInfo.Type;
        if (type.IsEnum) schema.Type = JsonSchemaType.String; // JsonStringEnumConverter: the names, as strings
        // Web defaults read numbers from strings too; the document says what the API writes and expects: numbers.
        if (schema.Type is { } t && t.HasFlag(JsonSchemaType.Integer) && t.HasFlag(JsonSchemaType.String))
        {
            schema.Type = t & ~JsonSchemaType.String;
            schema.Pattern = null;
        }
        // Problem bodies carry extensions (traceId, and whatever a problem adds).
        if (typeof(ProblemDetails).IsAssignableFrom(type)) schema.AdditionalPropertiesAllowed = true;
        // (Also when the type is first met as another type's property: that schema becomes its component.)
        if (context.JsonTypeInfo.Kind == JsonTypeInfoKind.Object && schema.Required is { Count: > 0 } required)
            // A nullable field may be left out (the endpoint decides what is missing and says so in a 422), and so may a
            // JsonElement (a patch field, where absent and null differ): only the others, or one marked [Required], are required.
            foreach (var property in context.JsonTypeInfo.Properties)
            {
                var optional = property.IsSetNullable || Nullable.GetUnderlyingType(property.PropertyType) is not null
                    || property.PropertyType == typeof(JsonElement);
                var marked = property.AttributeProvider?.IsDefined(typeof(RequiredAttribute), true) == true;
                if (optional && !marked) required.Remove(property.Name);
            }
        if (Examples.TryGetValue(type, out var example)) schema.Examples = [JsonNode.Parse(example)!];
        return Task.CompletedTask;
    }

    private static async Task TransformDocument(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken ct)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Notification Service API",
            Version = "v1",
            Description = """
                Send notifications through email, Telegram, SMS, VK, Avito or webhooks, and follow every job. `/v1` operations
                take a service key, `/admin` operations an admin key, both as `Authorization: Bearer <key>`. Errors are RFC 7807
                problem documents (`application/problem+json`); a validation problem (422) names each bad field in `errors`.
                """,
        };
        // Relative: the document describes the server it is served from, never a machine-specific address.
        document.Servers = [new OpenApiServer { Url = "/", Description = "This Notification Service" }];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            [ServiceKey] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http, Scheme = "bearer",
                Description = "A service's API key (`nss_...`), given when the service is created or registers, for the `/v1` operations.",
            },
            [AdminKey] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http, Scheme = "bearer",
                Description = "An operator's admin key (configured in `Admin:ApiKeys`), for the `/admin` operations.",
            },
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        foreach (var problemType in new[] { typeof(ProblemDetails), typeof(ValidationProblemDetails) })
            if (!document.Components.Schemas.ContainsKey(problemType.Name))
                document.Components.Schemas[problemType.Name] = await context.GetOrCreateSchemaAsync(problemType, null, ct);

        foreach (var schema in document.Components.Schemas.Values.OfType<OpenApiSchema>()) ObjectFields(schema);
        if (document.Components.Schemas.TryGetValue("JsonElement", out var any) && any is OpenApiSchema anyJson)
            anyJson.Description = "Any JSON value.";
        NamedStringEnums(document);
        foreach (var (path, item) in document.Paths)
        foreach (var (method, operation) in item.Operations ?? [])
        {
            QueryParameters(document, operation);
            Complete(document, path, method, operation);
        }

        // Stable order, so the checked-in copy only changes when the API does.
        var paths = new OpenApiPaths();
        foreach (var (path, item) in document.Paths.OrderBy(p => p.Key, StringComparer.Ordinal)) paths.Add(path, item);
        document.Paths = paths;
        document.Components.Schemas = new SortedDictionary<string, IOpenApiSchema>(document.Components.Schemas, StringComparer.Ordinal);
        var used = document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []).SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>())
            .Select(t => t.Name).OfType<string>().ToHashSet();
        var known = Areas.Select(a => a.Name).ToList();
        document.Tags = new HashSet<OpenApiTag>(used
            .OrderBy(t => known.IndexOf(t) is var i and >= 0 ? i : int.MaxValue).ThenBy(t => t, StringComparer.Ordinal)
            .Select(t => new OpenApiTag { Name = t, Description = Areas.FirstOrDefault(a => a.Name == t).Description }));
    }

    /// <summary>What the parameters shared by many operations mean (an endpoint's own parameters can say it themselves).</summary>
    private static readonly Dictionary<string, string> Parameters = new()
    {
        ["id"] = "The id (a GUID) of the resource the path names.",
        ["keyId"] = "The id (a GUID) of one of the service's keys.",
        ["page"] = "The page, from 1 (default 1).",
        ["pageSize"] = "Items per page, 1 to 200 (default 50).",
        ["Idempotency-Key"] = "Any string up to 200 characters that makes a retry safe: the same key with the same body returns the first answer and stores nothing; with another body, 422.",
    };

    /// <summary>
    /// The values the API keeps as strings in C# but that are a closed set: named enum schemas, so a generated client gets
    /// a type (the event names a callback subscribes to, and a delivery's outcome).
    /// </summary>
    private static void NamedStringEnums(OpenApiDocument document)
    {
        var schemas = document.Components!.Schemas!;
        schemas["CallbackEventName"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String, Enum = [.. CallbackEvents.All.Select(e => (JsonNode)e)],
            Description = "A job event a callback subscribes to (the payload's type is `job.<name>`).",
        };
        schemas["CallbackDeliveryOutcome"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Enum = [.. new[] { DeliveryOutcomes.Delivered, DeliveryOutcomes.Failed, DeliveryOutcomes.GaveUp, DeliveryOutcomes.Skipped }.Select(o => (JsonNode)o)],
            Description = "delivered: the URL answered 2xx; failed: it did not, another attempt is due at nextAttemptAt; gaveUp: it did not and that was the last attempt; skipped: not sent, the callback was disabled.",
        };
        foreach (var name in new[] { nameof(CreateCallback), nameof(CallbackCreated), nameof(CallbackView) })
            if (schemas.TryGetValue(name, out var schema) && schema.Properties is { } fields && fields.TryGetValue("events", out var field) && field is OpenApiSchema events)
                events.Items = new OpenApiSchemaReference("CallbackEventName", document);
        if (schemas.TryGetValue(nameof(CallbackDeliveryView), out var delivery) && delivery.Properties is { } properties && properties.ContainsKey("outcome"))
            properties["outcome"] = new OpenApiSchemaReference("CallbackDeliveryOutcome", document);
    }

    /// <summary>
    /// The listings' query parameters as the server reads them. GET /v1/jobs and GET /admin/jobs bind them as strings so that
    /// a bad value is a 422 naming the parameter (ListJobsEndpoint.Load, SearchJobsEndpoint.Load), not a 400: the document
    /// says what they must be.
    /// </summary>
    private static void QueryParameters(OpenApiDocument document, OpenApiOperation operation)
    {
        if (operation.OperationId is "listJobs")
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
                parameter.Schema = parameter.Name switch
                {
                    "state" => new OpenApiSchemaReference(nameof(Storage.Jobs.JobState), document),
                    "limit" => new OpenApiSchema
                    {
                        Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = $"{Jobs.ListJobsEndpoint.MaxLimit}",
                        Default = Jobs.ListJobsEndpoint.DefaultLimit,
                    },
                    "offerId" => new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" },
                    "createdFrom" or "createdTo" => new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
                    _ => parameter.Schema,
                };
        if (operation.OperationId is "searchJobs")
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
                parameter.Schema = parameter.Name switch
                {
                    "state" => new OpenApiSchemaReference(nameof(Storage.Jobs.JobState), document),
                    "page" => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = $"{Paging.MaxPage}", Default = 1 },
                    "pageSize" => new OpenApiSchema
                    {
                        Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = $"{Paging.MaxPageSize}", Default = Jobs.SearchJobsEndpoint.DefaultPageSize,
                    },
                    "service" or "offerId" => new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" },
                    "from" or "to" => new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
                    _ => parameter.Schema,
                };
        // The array lists page on request; the next page is a Link header, so the body stays the array older callers read.
        if (operation.OperationId is "listServices" or "listAllAdapters" or "listInvites")
        {
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>().Where(p => p.Name == "limit"))
                parameter.Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = $"{Paging.MaxPageSize}" };
            if (operation.Responses?.GetValueOrDefault("200") is OpenApiResponse ok)
            {
                ok.Headers ??= new Dictionary<string, IOpenApiHeader>();
                ok.Headers["Link"] = new OpenApiHeader
                {
                    Description = "With limit or after, while more rows follow: the next page as an RFC 8288 link, `<relative URL>; rel=\"next\"`.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                };
            }
        }
        // metadata.<key>=<value> cannot be a declared parameter: OpenAPI has no parameter-name patterns, and the object
        // styles send other names (deepObject metadata[key]=value, form+explode key=value), which the server refuses as
        // unknown parameters. So the operation says it in words and in a machine-readable extension a client generator's
        // template (or a hand-written wrapper, like NotificationService.Client's) can use to add the pairs to the query.
        if (operation.OperationId is "listJobs" or "listOffers" or "searchJobs")
        {
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
            operation.Extensions["x-metadata-filters"] = new JsonNodeExtension(new JsonObject
            {
                ["in"] = "query", ["namePrefix"] = MetadataFilter.Prefix, ["maxFilters"] = MetadataFilter.MaxFilters,
                ["description"] = "Each metadata.<key>=<value> keeps only the offers whose metadata holds that pair (exact, case-sensitive key and value); several AND together. The prefix is case-insensitive.",
                ["example"] = "metadata.customer=acme&metadata.region=eu",
            });
        }
    }

    /// <summary>Fields that hold free-form JSON (a JsonElement, any JSON to .NET) but are always a JSON object here.</summary>
    private static readonly string[] JsonObjectFields = ["params", "config", "configSchema", "paramsSchema", "policy"];

    private static void ObjectFields(OpenApiSchema schema)
    {
        foreach (var (name, property) in (schema.Properties ?? new Dictionary<string, IOpenApiSchema>()).ToList())
        {
            if (!JsonObjectFields.Contains(name)) continue;
            // A JsonElement is a $ref to the JsonElement schema; a JsonElement? is oneOf [null, that $ref].
            var nullable = property.OneOf is { Count: 2 } one && one.Any(o => o.Type == JsonSchemaType.Null);
            var element = nullable ? property.OneOf!.FirstOrDefault(o => o.Type != JsonSchemaType.Null) : property;
            if (element is not OpenApiSchemaReference { Reference.Id: "JsonElement" }) continue;
            schema.Properties![name] = new OpenApiSchema
            {
                Type = nullable ? JsonSchemaType.Object | JsonSchemaType.Null : JsonSchemaType.Object,
                AdditionalPropertiesAllowed = true, Description = property.Description,
            };
        }
    }

    /// <summary>The answers that follow from the route and the request's shape, and the problem schema on every error.</summary>
    private static void Complete(OpenApiDocument document, string path, HttpMethod method, OpenApiOperation operation)
    {
        foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            if (string.IsNullOrEmpty(parameter.Description) && Parameters.TryGetValue(parameter.Name ?? "", out var about))
                parameter.Description = about;
        var responses = operation.Responses ??= new OpenApiResponses();
        var hasBody = operation.RequestBody is not null;
        var hasQuery = operation.Parameters?.Any(p => p.In == ParameterLocation.Query) == true;
        var hasId = path.Contains('{');

        var scheme = Anonymous.Contains(path) ? null : path.StartsWith("/admin/", StringComparison.Ordinal) ? AdminKey : ServiceKey;
        if (scheme is not null)
        {
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, document)] = [] }];
            responses.TryAdd("401", Problem(document, "No valid API key: send `Authorization: Bearer <key>`."));
            responses.TryAdd("403", Problem(document, scheme == AdminKey
                ? "The key is not an admin key (a service key cannot use `/admin`), or a change signed in by the console's cookie lacks its `X-CSRF-Token`."
                : "The key is not a service key (an admin key cannot use `/v1`), or the service is blocked."));
        }
        else operation.Security = []; // explicitly open: the invite code or admin key in the body (or the session cookie) is the credential

        // Wolverine lists 400 wherever a Validate method may return a problem (ours answer 422) and 404 for any JSON
        // body that could be null; what is true here: 400 for an unreadable body or query value, 404 for an unknown id.
        if (hasBody || hasQuery) responses.TryAdd("400", Problem(document, "The body is not readable JSON of the right shape, or a query value cannot be parsed."));
        else responses.Remove("400");
        // JsonBodies and RequestValues refuse values that cannot be stored (a NUL character, say) with a 422 naming the field.
        if (hasBody || hasQuery) responses.TryAdd("422", Problem(document, DefaultDescription("422"), nameof(ValidationProblemDetails)));
        if (hasId) responses.TryAdd("404", Problem(document, "Nothing with this id was found (or it belongs to another service)."));
        else responses.Remove("404");
        if (hasBody) responses.TryAdd("413", Problem(document, "The body is larger than allowed (1 MiB, or the service's maxBodyBytes limit on `/v1`)."));

        foreach (var (status, response) in responses.ToList())
        {
            if (status is "201" or "202" && response is OpenApiResponse created)
            {
                created.Headers ??= new Dictionary<string, IOpenApiHeader>();
                created.Headers.TryAdd("Location", new OpenApiHeader
                {
                    Description = "Where to read the resource.", Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
            if (!status.StartsWith('4')) continue;
            var schema = status == "422" ? nameof(ValidationProblemDetails) : nameof(ProblemDetails);
            var description = response.Description is { Length: > 0 } d && d != ReasonPhrase(status) ? d : DefaultDescription(status);
            var problem = Problem(document, description, schema);
            if (status == "429")
                problem.Headers = new Dictionary<string, IOpenApiHeader>
                {
                    ["Retry-After"] = new OpenApiHeader
                    {
                        Description = "Seconds to wait before trying again.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                    },
                };
            responses[status] = problem;
        }
    }

    private static OpenApiResponse Problem(OpenApiDocument document, string description, string schema = nameof(ProblemDetails)) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(schema, document) },
        },
    };

    private static string ReasonPhrase(string status) =>
        int.TryParse(status, out var code) ? Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(code) : "";

    private static string DefaultDescription(string status) => status switch
    {
        "409" => "The request conflicts with the current state, or a concurrent request changed or deleted the same thing first (the detail says which); nothing was stored.",
        "422" => "The request is not valid; `errors` names each bad field.",
        "429" => "Over a limit of this service; nothing was stored. Retry after the time in Retry-After.",
        _ => ReasonPhrase(status),
    };

    /// <summary>Realistic examples: a working offer to an email adapter (the quick start's) and what it answers.</summary>
    private static readonly Dictionary<Type, string> Examples = new()
    {
        [typeof(CreateOffer)] = """
            {
              "targets": [
                { "adapter": "email-demo", "params": { "to": "you@example.test", "subject": "Hello", "text": "First notification" } }
              ],
              "metadata": { "orderId": "A-1042" }
            }
            """,
        [typeof(OfferAccepted)] = """
            {
              "id": "3f2c8a4e-5b1d-4c9e-9a7b-2d6f0e1c8b35",
              "jobs": [ { "id": "9b1e7d2a-6c4f-4e3b-8a5d-1f0c2e9b7a64", "adapter": "email-demo", "state": "Queued" } ]
            }
            """,
    };
}
