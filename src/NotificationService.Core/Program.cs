using System.Text.Json.Serialization;
using JasperFx;
using Marten;
using NotificationService.Hosting;
using NotificationService.Contracts;
using NotificationService.Core.Adapters;
using NotificationService.Core.Auth;
using NotificationService.Core.Callbacks;
using NotificationService.Core.Console;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Invites;
using NotificationService.Core.Jobs;
using NotificationService.Core.Limits;
using NotificationService.Core.Metrics;
using NotificationService.Core.Offers;
using NotificationService.Core.OpenApi;
using NotificationService.Core.Operations;
using NotificationService.Core.Retention;
using NotificationService.Core.Services;
using NotificationService.Core.Templates;
using NotificationService.Storage.Adapters;
using Wolverine;
using Wolverine.Http;
using Wolverine.Persistence;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);
builder.AddNotificationLogging();
CommittedJobMetrics.AddCoreTelemetry(builder);
var postgres = builder.Configuration.RequiredConnectionString("Postgres");
var rabbitMq = builder.Configuration.RequiredConnectionString("RabbitMq", ", an amqp:// URI");
var callbacks = CallbackSettings.From(builder.Configuration);

builder.Services.AddNotificationMarten(postgres, wolverineSchema: "wolverine", opts =>
{
    opts.Projections.Snapshot<ServiceAccount>(JasperFx.Events.Projections.SnapshotLifecycle.Inline);
    opts.Schema.For<ServiceAccount>().UniqueIndex(x => x.Name);
    opts.Schema.For<ServiceKey>().Index(x => x.ServiceId).Index(x => x.KeyId);
    opts.AddOfferStorage();
    opts.Schema.For<IdempotentRequest>();
    opts.Schema.For<Invite>().UseOptimisticConcurrency(true).Index(x => x.InviteId);
    opts.AddLimitsStorage();
    opts.AddTemplateStorage();
})
    // Status callbacks are a subscription to the job streams; HotCold: one core of several runs it, another takes over.
    .AddAsyncDaemon(JasperFx.Events.Daemon.DaemonMode.HotCold);
// After Marten's migration (registered after it): the workers' database role gets what a worker needs, no more.
builder.Services.AddWorkerGrants(builder.Configuration, postgres);

// Before UseWolverine: adapter queues from before fair sharing get their priority levels before Wolverine declares them.
builder.Services.AddAdapterQueueUpgrade(rabbitMq, async (sp, ct) =>
{
    await using var session = sp.GetRequiredService<IDocumentStore>().QuerySession();
    return await session.Query<Adapter>().Select(a => a.Queue).ToListAsync(ct);
});
builder.Host.UseWolverine(opts =>
{
    // Explicit, so endpoints and handlers are found when a test host (not this assembly) is the entry point.
    opts.ApplicationAssembly = typeof(Program).Assembly;
    opts.UseNotificationDefaults(rabbitMq);
    // A missing entity or aggregate named by the route is a 404 with a problem body, like every other error.
    opts.EntityDefaults.OnMissing = OnMissing.ProblemDetailsWith404;
    opts.PublishMessage<JobCancellationBroadcast>().ToRabbitExchange(Topology.CancellationExchange);
    // Scheduled sends wait as durable scheduled messages in PostgreSQL, so a restart does not lose them.
    opts.PublishMessage<QueueScheduledJob>().ToLocalQueue("scheduled").UseDurableInbox();
    opts.RouteCallbacks(callbacks);
});

builder.Services.AddWolverineHttp();
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
    // A misspelt field ('send_at' for 'sendAt') is refused rather than silently ignored; free-form objects still take any key.
    o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
});
builder.Services.AddSingleton<JsonSchemas>();
builder.Services.AddAdapterSecrets(builder.Configuration, builder.Environment);
builder.Services.AddHostedService<KeyRingUpgrade>(); // the core only: workers need not write the key ring
builder.Services.AddApiKeyAuth();
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = QueryProblems.MakeReadable);
builder.Services.AddExceptionHandler<ConcurrentChangeHandler>();
builder.Services.AddExceptionHandler<MalformedRequestHandler>();
builder.Services.AddServiceLimits(builder.Configuration, postgres);
builder.Services.AddHostedService<ExpirySweeper>();
builder.Services.AddSingleton(JobReconciler.Bounds(builder.Configuration)).AddSingleton<JobReconciler>();
builder.Services.AddSingleton(FairShare.Settings.From(builder.Configuration)).AddSingleton<FairShare>();
// Registered after UseWolverine, so it stops first: the sends in flight end before Wolverine's senders do.
builder.Services.AddSingleton<BackgroundSends>().AddHostedService(sp => sp.GetRequiredService<BackgroundSends>());
builder.Services.AddHostedService(sp => sp.GetRequiredService<JobReconciler>());
builder.Services.AddRetention(builder.Configuration);
builder.Services.AddCallbacks(callbacks);
builder.Services.AddFallbackChains();
builder.Services.AddOperations(builder.Configuration);
builder.Services.AddConsole();
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = RequestLimits.MaxBodyBytes);
builder.Services.AddNotificationOpenApi();
builder.Services.AddNotificationHealthChecks(postgres, rabbitMq);
builder.Services.AddLiveWorkerStatus(builder.Configuration, rabbitMq);

var app = builder.Build();

app.UseNoSniff();
app.UseExceptionHandler();
app.UseBodySizeLimit();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.UseServiceBodyLimits();
app.UsePendingJobsReservations();
app.UseRequestValueChecks();
app.UseJsonBodyChecks();
app.UseOutputCache(); // the OpenAPI document's only: no other endpoint has a cache policy
app.MapNotificationOpenApi();
app.MapNotificationDocs();
app.MapNotificationHealth();
app.MapNotificationMetrics();
app.MapConsole();
app.MapWolverineEndpoints(opts =>
{
    opts.RequireRoleByRoutePrefix();
    opts.AddMiddlewareByMessageType(typeof(RequireBody));
    // '?page=abc' is bad input and gets a 400 problem, not a silent default.
    opts.RejectUnparseableQueryValues = true;
});

return await app.RunCommandsAsync(args);

public partial class Program;
