using System.Text.Json;
using System.Text.Json.Serialization;
using Alba;
using Marten;
using Marten.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NotificationService.Adapters.Email;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Callbacks;
using NotificationService.Core.Offers;
using NotificationService.Core.Tests.Console;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Npgsql;
using Wolverine;
using Wolverine.Runtime;
using Wolverine.Tracking;

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
    private string? _resetSql; // made once from Marten's mappings

    public IAlbaHost Core { get; private set; } = null!;
    public SmtpSink Smtp { get; } = new();
    public Tenant Tenant { get; private set; } = null!;
    public RegisteredAdapter Email { get; private set; } = null!;
    /// <summary>For the tests that must send what Alba cannot express (raw bytes, chunked bodies, exact headers); the rest use <see cref="ScenarioAsync"/>.</summary>
    public HttpClient Http { get; private set; } = null!;
    /// <summary>The shared email worker host, delivering <see cref="Email"/>'s jobs: tracked sessions follow its messages too.</summary>
    public WebApplication EmailWorker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TestEnvironment.EnsureKeyRingCertificate();
        await DeleteAdapterQueuesAsync(); // the previous run's, in case it did not end cleanly
        await DropSchemasAsync();
        Core = await AlbaHost.For<Program>(b =>
        {
            foreach (var (key, value) in CoreSettings) b.UseSetting(key, value);
            b.ConfigureServices(services => services.ConfigureWolverine(QuickScheduledMessages));
        });
        Http = Core.Server.CreateClient();
        Tenant = await CreateTenantAsync("acme");
        Email = await CreateEmailAdapterAsync("email-main", Smtp.Port);
        EmailWorker = await StartEmailWorkerAsync(Email.ApiKey);
    }

    /// <summary>The core's settings in tests (also for a test's own short-lived extra core).</summary>
    internal static readonly (string Key, string Value)[] CoreSettings =
    [
        ("Admin:ApiKeys:0", AdminKey),
        ("Jobs:ExpirySweepSeconds", "0.5"),
        // The retention tests run the sweep themselves, as of the time they choose.
        ("Retention:SweepSeconds", "0"),
        // The limits tests see the reservations of stored offers, which the sweep would clear at any moment.
        ("Limits:ReservationSweepSeconds", "0"),
        // Fair sharing starts lowering a service's priority after 10 recent jobs, so a test's backlog can be small.
        ("Fairness:FreeJobs", "10"),
        // Callback receivers in tests are HttpPeers on 127.0.0.1; retries come quickly so a test can watch them.
        ("Callbacks:AllowPrivateNetwork", "true"),
        ("Callbacks:RetryDelaysSeconds", "0.5,0.5,0.5"),
        ("Callbacks:TimeoutSeconds", "2"),
        ("Callbacks:DisableAfterFailures", "5"),
        // Live worker status: workers beat every 0.5 s (StartWorkerAsync), so a 3 s bound is six missed beats.
        ("Workers:LiveSeconds", "3"),
        ("Workers:SampleSeconds", "0.5"),
        // A replay or discard by filter walks its matches in batches of 5, so a test needs only a few rows for several.
        ("Operations:DeadLetterBatchSize", "5"),
    ];

    private Task<ConsoleBrowser>? _browser;

    /// <summary>
    /// The web console's browser harness: Debian's chromium reaching <see cref="Core"/> itself through a forwarder on a real
    /// 127.0.0.1 port, started by the first test that asks and shared by the rest (see <see cref="ConsoleBrowser"/>).
    /// </summary>
    public Task<ConsoleBrowser> BrowserAsync() => _browser ??= ConsoleBrowser.StartAsync(Core.Server);

    /// <summary>
    /// Another core like <see cref="Core"/> (same database, broker and settings, plus <paramref name="settings"/>), for a test
    /// that needs two; the test disposes it before it ends, so no other test runs beside a second core.
    /// </summary>
    public Task<IAlbaHost> StartExtraCoreAsync(params (string Key, string Value)[] settings) => AlbaHost.For<Program>(b =>
    {
        foreach (var (key, value) in CoreSettings.Concat(settings)) b.UseSetting(key, value);
        b.ConfigureServices(services => services.ConfigureWolverine(QuickScheduledMessages));
    });

    /// <summary>
    /// Scheduled messages (a job's send time, a delivery's retry) are due at their time but run when the durability agent
    /// next polls for them: every 5 s by default, every 250 ms in tests (as in Wolverine's own tests), so that a test
    /// waits for the time it set rather than for the poll.
    /// </summary>
    private static void QuickScheduledMessages(WolverineOptions options) => options.Durability.ScheduledJobPollingTime = TimeSpan.FromMilliseconds(250);

    /// <summary>Before each test: no jobs, offers or mail from earlier tests; tenants, adapters and the shared email worker stay.</summary>
    public async Task ResetAsync()
    {
        // Table and event names come from Marten's mappings, so renaming a document or event type cannot leave its rows
        // behind. Job streams only: the adapters' and services' streams are what their documents are projected from. The
        // statements are one explicit transaction, which first locks the streams table against writes: every append
        // inserts or updates a stream row, so the shared worker's (or a handler's) write for an earlier test's job either
        // committed before the lock, and every statement here sees it, or waits for the reset and then finds its stream
        // gone (MT003). A worker writing from the job it holds would otherwise store that job's document again after the
        // reset, and a stream started meanwhile would outlive it. Then the job streams (their events go with them), the
        // job events by type (in a stream of no type), the streams left empty, and the documents. DELETE rather than
        // Marten's Clean (TRUNCATE): no exclusive lock that would also stop the readers.
        // A writer holding a stream row while it waits for the table, or the other way round: PostgreSQL aborts one of the two.
        _resetSql ??= ResetSql(Core.Services.GetRequiredService<IDocumentStore>());
        for (var attempt = 1; ; attempt++)
        {
            try { await Sql.ExecuteInTransactionAsync(_resetSql); break; }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 3) { }
        }
        Smtp.Reset(); // what it received, and a scripted reply an earlier test left unused
        Core.Services.GetRequiredService<HealthReports>().Forget(); // a report of the last test's state is not this test's
    }

    private static string ResetSql(IDocumentStore store)
    {
        var events = store.Options.Events.DatabaseSchemaName; // Marten names its event tables mt_events and mt_streams in it
        var jobEventTypes = string.Join(", ", JobEventTypeNames(store).Select(name => $"'{name.Replace("'", "''")}'"));
        var jobStreams = ((EventGraph)store.Options.Events).AggregateAliasFor(typeof(Job)).Replace("'", "''");
        return $"""
            LOCK TABLE {events}.mt_streams IN SHARE ROW EXCLUSIVE MODE;
            DELETE FROM {events}.mt_streams WHERE type = '{jobStreams}'; -- their events go with them (ON DELETE CASCADE)
            DELETE FROM {events}.mt_events WHERE type IN ({jobEventTypes}) OR stream_id IN (SELECT id FROM {TableOf(store, typeof(Job))}) OR type = 'tombstone'; -- tombstone: Marten's filler for a failed append
            DELETE FROM {events}.mt_streams s WHERE NOT EXISTS (SELECT 1 FROM {events}.mt_events e WHERE e.stream_id = s.id);
            {string.Concat(PerTestDocuments.Select(type => $"DELETE FROM {TableOf(store, type)}; "))}
            """;
    }

    /// <summary>What tests create and the next test must not see; tenants, adapters and their keys stay.</summary>
    private static readonly Type[] PerTestDocuments =
        [typeof(Job), typeof(Offer), typeof(IdempotentRequest), typeof(CallbackEndpoint), typeof(CallbackDelivery), typeof(DeletedCallback), typeof(ParkedCallback)];

    private static string TableOf(IDocumentStore store, Type document) => store.Options.FindOrResolveDocumentType(document).TableName.QualifiedName;

    /// <summary>The stored names of every event a job stream holds: those the job projection applies.</summary>
    private static string[] JobEventTypeNames(IDocumentStore store) =>
        typeof(Job).GetMethods().Where(m => m.Name == nameof(Job.Apply)).Select(m => m.GetParameters().Single().ParameterType)
            .Select(type => ((EventGraph)store.Options.Events).EventMappingFor(type).EventTypeName).ToArray();

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
            b.Configuration["Adapter:HeartbeatSeconds"] = "0.5";
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) b.Configuration[key] = value;
            b.WebHost.UseUrls("http://127.0.0.1:0");
            if (channel is not null) b.Services.AddSingleton(channel);
            b.Services.ConfigureWolverine(QuickScheduledMessages);
        });
        await worker.StartAsync();
        _workers.Add(worker);
        return worker;
    }

    public async Task StopWorkerAsync(WebApplication worker)
    {
        _workers.Remove(worker);
        try { await worker.StopAsync(); }
        finally { await worker.DisposeAsync(); } // a stop that throws must still release the worker's connections
    }

    /// <summary>
    /// After each test: stops the workers it started and left running (all but the shared <see cref="EmailWorker"/>). Each
    /// one kept polling and holding its pooled connections until the assembly ended, so by the last tests the suite held
    /// about 260 of PostgreSQL's 300 connections, and a run that crossed the limit failed a test that only started a worker.
    /// </summary>
    public async Task StopWorkersStartedByTheTestAsync()
    {
        foreach (var worker in _workers.Where(w => w != EmailWorker).ToList()) await StopWorkerAsync(worker);
    }

    /// <summary>
    /// One request as a client sends it (a bearer key, a JSON body), through Alba's scenario: with <paramref name="expect"/>
    /// Alba asserts the status (its failure shows the body), without it any status comes back to the test to check;
    /// <paramref name="also"/> adds to the scenario (a header, an expectation).
    /// </summary>
    public async Task<IScenarioResult> ScenarioAsync(HttpMethod method, string url, string? key, object? body = null, int? expect = null, Action<Scenario>? also = null)
    {
        try
        {
            return await Core.Scenario(s =>
            {
                var request = method.Method switch
                {
                    "GET" => s.Get, "POST" => s.Post, "PUT" => s.Put, "PATCH" => s.Patch, "DELETE" => s.Delete,
                    _ => throw new ArgumentOutOfRangeException(nameof(method), method, "no such scenario verb"),
                };
                if (body is null) request.Url(url);
                else request.Json(body).ToUrl(url); // the core's own JSON options, as its clients' bodies read
                if (key is not null) s.WithRequestHeader("Authorization", $"Bearer {key}");
                if (expect is { } status) s.StatusCodeShouldBe(status);
                else s.IgnoreStatusCode();
                also?.Invoke(s);
            });
        }
        catch (ScenarioAssertionException e)
        {
            throw new Xunit.Sdk.XunitException($"{method} {url}: {e.Message}"); // which request, when a helper's status check fails
        }
    }

    public async Task<T> SendAsync<T>(HttpMethod method, string url, string? key, object? body = null, int? expect = null) =>
        (await BodyOf(await ScenarioAsync(method, url, key, body, expect))).Deserialize<T>(Json)!;

    /// <summary>One request through <see cref="ScenarioAsync"/> whose status is the test's to check: the status and the JSON body.</summary>
    public async Task<(int Status, JsonElement Body)> SendForStatusAsync(HttpMethod method, string url, string? key, object? body = null)
    {
        var result = await ScenarioAsync(method, url, key, body);
        return (result.Context.Response.StatusCode, await BodyOf(result));
    }

    /// <summary>The response's JSON (default when empty), read with the tests' lenient options: the test records name only what they check.</summary>
    public static async Task<JsonElement> BodyOf(IScenarioResult result)
    {
        var text = await result.ReadAsTextAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// Runs <paramref name="act"/> in a Wolverine tracked session on the core and <paramref name="workers"/> (the shared
    /// email worker when none are given) and returns once <paramref name="until"/> is met; past <paramref name="timeout"/>
    /// (30 s by default) the session fails the test with everything it saw. An exception in a tracked handler fails it too.
    /// </summary>
    public Task<ITrackedSession> TrackAsync(Func<Task> act, ITrackedCondition until, TimeSpan? timeout = null, params IHost[] workers) =>
        Core.TrackActivity().AlsoTrack(workers.Length == 0 ? [EmailWorker] : workers).Timeout(timeout ?? TimeSpan.FromSeconds(30))
            .WaitForCondition(until).ExecuteAndWaitAsync(_ => act());

    /// <summary>
    /// The <typeparamref name="T"/> messages the core sent in <paramref name="session"/>, not its workers: the core sends a
    /// job's delivery only for a job that exists (this test's, after the reset), while a worker's retry an earlier test left
    /// scheduled (Wolverine keeps those across the reset) may be sent by the shared worker at any time.
    /// </summary>
    public IEnumerable<T> SentByCore<T>(ITrackedSession session)
    {
        var core = Core.Services.GetRequiredService<IWolverineRuntime>().Options.ServiceName;
        return session.FindEnvelopesWithMessageType<T>(MessageEventType.Sent).Where(r => r.ServiceName == core).Select(r => (T)r.Message!);
    }

    /// <summary>
    /// Deletes the broker queues of every adapter registered in the test database, deleted ones included (their streams
    /// stay). Dropping the store leaves them on the broker, where they piled up run after run (thousands on a developer's
    /// machine), and a broker restarts by recovering every one.
    /// </summary>
    private static async Task DeleteAdapterQueuesAsync()
    {
        if (!await Sql.ScalarAsync<bool>("SELECT to_regclass('ns.mt_events') IS NOT NULL")) return;
        await Broker.DeleteQueuesAsync(await Sql.ScalarAsync<string[]>(
            "SELECT coalesce(array_agg(DISTINCT data ->> 'queue'), '{}') FROM ns.mt_events WHERE type = 'adapter_registered'"));
    }

    private static Task DropSchemasAsync() => Sql.ExecuteAsync("DROP SCHEMA IF EXISTS ns, wolverine, wolverine_adapters CASCADE");

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers) { await worker.StopAsync(); await worker.DisposeAsync(); }
        if (_browser is not null) await (await _browser).DisposeAsync();
        await Core.DisposeAsync();
        await Smtp.DisposeAsync();
        await DeleteAdapterQueuesAsync();
    }
}

[CollectionDefinition(nameof(SystemCollection))]
public sealed class SystemCollection : ICollectionFixture<SystemFixture>;

/// <summary>Base of every integration test: the shared system, with per-test data reset before the test runs and the workers it started stopped after.</summary>
[Collection(nameof(SystemCollection))]
public abstract class IntegrationContext(SystemFixture system) : IAsyncLifetime
{
    protected SystemFixture System { get; } = system;

    public Task InitializeAsync() => System.ResetAsync();
    public Task DisposeAsync() => System.StopWorkersStartedByTheTestAsync();
}
