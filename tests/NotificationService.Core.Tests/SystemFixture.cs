using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Alba;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Adapters.Email;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests;

public sealed record Tenant(Guid Id, string Name, string ApiKey);
public sealed record RegisteredAdapter(Guid Id, string Name, string Queue, string ApiKey);

/// <summary>
/// The whole system once per test assembly, against the real PostgreSQL and RabbitMQ: the core (Alba), a real SMTP
/// server, one tenant, one email adapter and a real email worker host delivering over RabbitMQ.
/// </summary>
public sealed class SystemFixture : IAsyncLifetime
{
    public const string AdminKey = "nsadmin_test-key";
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly List<WebApplication> _workers = [];

    public IAlbaHost Core { get; private set; } = null!;
    public SmtpSink Smtp { get; } = new();
    public Tenant Tenant { get; private set; } = null!;
    public RegisteredAdapter Email { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TestEnvironment.EnsureKeyRingCertificate();
        await DropSchemasAsync();
        Core = await AlbaHost.For<Program>(b => b
            .UseSetting("Admin:ApiKeys:0", AdminKey)
            .UseSetting("Jobs:ExpirySweepSeconds", "0.5")
            // The retention tests run the sweep themselves, as of the time they choose.
            .UseSetting("Retention:SweepSeconds", "0")
            // Fair sharing starts lowering a service's priority after 10 recent jobs, so a test's backlog can be small.
            .UseSetting("Fairness:FreeJobs", "10")
            // Callback receivers in tests are HttpPeers on 127.0.0.1; retries come quickly so a test can watch them.
            .UseSetting("Callbacks:AllowPrivateNetwork", "true")
            .UseSetting("Callbacks:RetryDelaysSeconds", "0.5,0.5,0.5")
            .UseSetting("Callbacks:TimeoutSeconds", "2")
            .UseSetting("Callbacks:DisableAfterFailures", "5"));
        Http = Core.Server.CreateClient();
        Tenant = await CreateTenantAsync("acme");
        Email = await CreateEmailAdapterAsync("email-main", Smtp.Port);
        await StartEmailWorkerAsync(Email.ApiKey);
    }

    /// <summary>Before each test: no jobs, offers or mail from earlier tests; tenants, adapters and workers stay.</summary>
    public async Task ResetAsync()
    {
        // Job streams only: the adapters' and services' streams are what their documents are projected from. By event
        // type, not by the job documents: an outcome an earlier test's worker committed between these statements would
        // otherwise outlive its job's first events and document, and a later projection rebuild would replay a job
        // with no JobQueued.
        await Sql.ExecuteAsync("""
            DELETE FROM ns.mt_events WHERE type LIKE 'job\_%' OR stream_id IN (SELECT id FROM ns.mt_doc_job) OR type = 'tombstone';
            DELETE FROM ns.mt_streams s WHERE NOT EXISTS (SELECT 1 FROM ns.mt_events e WHERE e.stream_id = s.id);
            DELETE FROM ns.mt_doc_job; DELETE FROM ns.mt_doc_offer; DELETE FROM ns.mt_doc_idempotentrequest;
            DELETE FROM ns.mt_doc_callbackendpoint; DELETE FROM ns.mt_doc_callbackdelivery; DELETE FROM ns.mt_doc_deletedcallback;
            DELETE FROM ns.mt_doc_parkedcallback;
            """);
        Smtp.Received.Clear();
    }

    public async Task<Tenant> CreateTenantAsync(string name)
    {
        var created = await SendAsync<JsonElement>(HttpMethod.Post, "/admin/services", AdminKey, new { name }, expect: 201);
        return new Tenant(created.GetProperty("id").GetGuid(), name, created.GetProperty("apiKey").GetString()!);
    }

    public async Task<RegisteredAdapter> CreateAdapterAsync(string name, string type, object config, object? policy = null)
    {
        var created = await SendAsync<JsonElement>(HttpMethod.Post, "/admin/adapters", AdminKey, new { name, type, config, policy }, expect: 201);
        return new RegisteredAdapter(created.GetProperty("id").GetGuid(), name, created.GetProperty("queue").GetString()!, created.GetProperty("apiKey").GetString()!);
    }

    public async Task<RegisteredAdapter> CreateEmailAdapterAsync(string name, int smtpPort, object? extraConfig = null)
    {
        var config = new Dictionary<string, object> { ["host"] = "127.0.0.1", ["port"] = smtpPort, ["security"] = "none", ["from"] = "ns@example.test" };
        foreach (var (k, v) in JsonSerializer.SerializeToElement(extraConfig ?? new { }).EnumerateObject().Select(p => (p.Name, (object)p.Value))) config[k] = v;
        var created = await SendAsync<JsonElement>(HttpMethod.Post, "/admin/adapters", AdminKey, new { name, type = EmailAdapterType.Name, config }, expect: 201);
        return new RegisteredAdapter(created.GetProperty("id").GetGuid(), name, created.GetProperty("queue").GetString()!, created.GetProperty("apiKey").GetString()!);
    }

    /// <summary>
    /// A real email worker host, as `dotnet run` would start it, but in this process; with <paramref name="channel"/>
    /// it sends through that channel instead of SMTP (everything else, broker and database included, is real).
    /// </summary>
    public Task<WebApplication> StartEmailWorkerAsync(string adapterKey, IChannelSender? channel = null, IDictionary<string, string?>? settings = null) =>
        StartWorkerAsync<EmailSender, EmailConfig>(EmailAdapterType.Name, adapterKey, channel, settings);

    public async Task<WebApplication> StartWorkerAsync<TSender, TConfig>(
        string type, string adapterKey, IChannelSender? channel = null, IDictionary<string, string?>? settings = null)
        where TSender : class, IChannelSender where TConfig : class
    {
        var worker = await AdapterWorker.BuildAsync<TSender, TConfig>([], type, b =>
        {
            b.Configuration["Adapter:Key"] = adapterKey;
            b.Configuration["ConnectionStrings:Postgres"] = TestEnvironment.WorkerPostgres; // the worker role, as deployed
            b.Configuration["ConnectionStrings:RabbitMq"] = TestEnvironment.WorkerRabbitMq;
            b.Configuration["Adapter:StatusPollSeconds"] = "0.5";
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) b.Configuration[key] = value;
            b.WebHost.UseUrls("http://127.0.0.1:0");
            if (channel is not null) b.Services.AddSingleton(channel);
        });
        await worker.StartAsync();
        _workers.Add(worker);
        return worker;
    }

    public async Task StopWorkerAsync(WebApplication worker)
    {
        _workers.Remove(worker);
        await worker.StopAsync();
        await worker.DisposeAsync();
    }

    public async Task<T> SendAsync<T>(HttpMethod method, string url, string? key, object? body = null, int? expect = null)
    {
        var (status, json) = await SendRawAsync(method, url, key, body);
        if (expect is { } expected && status != expected)
            throw new Xunit.Sdk.XunitException($"{method} {url}: expected {expected}, got {status}: {json}");
        return json.Deserialize<T>(Json)!;
    }

    public async Task<(int Status, JsonElement Body)> SendRawAsync(HttpMethod method, string url, string? key, object? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is not null) request.Content = JsonContent.Create(body, options: Json);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static Task DropSchemasAsync() => Sql.ExecuteAsync("DROP SCHEMA IF EXISTS ns, wolverine, wolverine_adapters CASCADE");

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers) { await worker.StopAsync(); await worker.DisposeAsync(); }
        await Core.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}

[CollectionDefinition(nameof(SystemCollection))]
public sealed class SystemCollection : ICollectionFixture<SystemFixture>;

/// <summary>Base of every integration test: the shared system, with per-test data reset before the test runs.</summary>
[Collection(nameof(SystemCollection))]
public abstract class IntegrationContext(SystemFixture system) : IAsyncLifetime
{
    protected SystemFixture System { get; } = system;

    public Task InitializeAsync() => System.ResetAsync();
    public Task DisposeAsync() => Task.CompletedTask;
}
