using System.Text.Json;
using JasperFx;
using JasperFx.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using NotificationService.Contracts;
using NotificationService.Hosting;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using Npgsql;
using RabbitMQ.Client.Exceptions;
using Wolverine;
using Wolverine.ErrorHandling;
using Wolverine.RabbitMQ;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// Boots an adapter worker: finds its registration by <c>Adapter:Key</c>, builds its channel sender from the stored
/// config, competes with the adapter's other workers on the stored queue and listens to the cancellation fanout.
/// </summary>
public static class AdapterWorker
{
    private static readonly JsonSerializerOptions ConfigJson = new(JsonSerializerDefaults.Web);

    /// <summary>The whole <c>Main</c> of an adapter project.</summary>
    public static async Task<int> RunAsync<TSender, TConfig>(string[] args, string adapterType)
        where TSender : class, IChannelSender where TConfig : class
    {
        try
        {
            await using var app = await BuildAsync<TSender, TConfig>(args, adapterType);
            if (GeneratesCode(args)) return await app.RunJasperFxCommands(args);
            await app.RunAsync();
            return 0;
        }
        catch (Exception e) when (Reason(e) is { } reason)
        {
            await Console.Error.WriteLineAsync($"adapter worker ({adapterType}): {reason}");
            return 2;
        }
    }

    public static async Task<WebApplication> BuildAsync<TSender, TConfig>(
        string[] args, string adapterType, Action<WebApplicationBuilder>? configure = null)
        where TSender : class, IChannelSender where TConfig : class
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddNotificationLogging();
        configure?.Invoke(builder);
        var configuration = builder.Configuration;
        var postgres = configuration.RequiredConnectionString("Postgres");
        var rabbitMq = configuration.RequiredConnectionString("RabbitMq", ", an amqp:// URI");
        // `codegen write` needs the shape of the host, not a registration: the generated handlers are the same for every adapter.
        var generatingCode = GeneratesCode(args);
        var key = configuration["Adapter:Key"] is { Length: > 0 } k ? k
            : generatingCode ? ""
            : throw new WorkerStartupException("Set Adapter:Key (env Adapter__Key) to the key the admin API returned when the adapter was created.");

        var adapter = generatingCode
            ? new Adapter { Name = "codegen", Type = adapterType, Queue = "codegen" }
            : await AdapterRegistration.LoadAsync(postgres, key, adapterType, wait: TimeSpan.FromSeconds(configuration.GetValue("Adapter:StartupWaitSeconds", 30)));
        var parallelism = configuration.GetValue("Adapter:Parallelism", 4);
        // No dots: the node ends this worker's cancellation queue name, and a per-adapter RabbitMQ user may match only a
        // dot-free suffix after its adapter's name (adapter names may contain dots: "a" must not reach "a.b"'s queues).
        var node = $"{Environment.MachineName.Replace('.', '-')}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        var commitWindow = TimeSpan.FromSeconds(configuration.GetValue("Adapter:OutcomeCommitSeconds", 60.0));
        var worker = new WorkerContext(adapter.Id, adapter.Name, adapter.Queue, adapter.Policy, node, commitWindow);

        builder.Services.AddSingleton(worker).AddSingleton<InFlightJobs>().AddSingleton<SendRateLimiter>().AddSingleton<JobJournal>();
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(NotificationStore.PooledConnectionString(postgres)));
        builder.Services.AddAdapterSecrets(configuration, builder.Environment);
        // A worker only decrypts; creating keys is the core's (the worker's database role may only read the key ring).
        builder.Services.AddDataProtection().DisableAutomaticKeyGeneration();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<AdapterSecrets>().Unprotect(adapter.Config).Deserialize<TConfig>(ConfigJson)
                                            ?? throw new WorkerStartupException($"Adapter '{adapter.Name}' has no usable config."));
        // TryAdd: a host that registered its own channel (a test gating its sends) keeps it.
        builder.Services.TryAddSingleton<IChannelSender, TSender>();
        // The core migrates the store; a worker changes no table of it (its role may not), only its own envelope schema.
        builder.Services.AddNotificationMarten(postgres, wolverineSchema: WorkerRole.EnvelopeSchema, migrates: false);
        builder.Services.AddNotificationHealthChecks(postgres, rabbitMq);

        builder.AddNotificationTelemetry($"ns-adapter-{adapter.Name}");
        builder.Services.AddAdapterQueueUpgrade(rabbitMq, (_, _) => Task.FromResult<IEnumerable<string>>([adapter.Queue])); // before Wolverine's
        builder.Host.UseWolverine(opts =>
        {
            opts.ServiceName = $"ns-adapter-{adapter.Name}";
            // The handlers, and their generated code, live in this assembly whichever adapter project is the entry point.
            opts.ApplicationAssembly = typeof(DeliverJobHandler).Assembly;

            // Every node gets every cancellation on a queue of its own that disappears with it. Buffered, not durable:
            // the database cancellation view is the source of truth; the broadcast only aborts sends in flight.
            // Named after the adapter, so a per-adapter RabbitMQ user (./ns rabbit-worker-user) reaches only its own.
            var cancellations = $"ns.cancellations.{adapter.Name}.{node}";
            opts.UseNotificationDefaults(rabbitMq)
                .BindExchange(Topology.CancellationExchange, ExchangeType.Fanout)
                .ToQueue(cancellations, q => (q.AutoDelete, q.IsDurable) = (true, false))
                .BindExchange(Topology.RetryExchange, ExchangeType.Direct).ToQueue(adapter.Queue, bindingKey: adapter.Queue);
            opts.ListenToRabbitQueue(cancellations).BufferedInMemory();

            // Inline: a job's message is acknowledged only after its outcome is committed.
            opts.ListenToRabbitQueue(adapter.Queue, AdapterQueues.Configure).ProcessInline().ListenerCount(parallelism).PreFetchCount(2);

            // First match wins: a dependency briefly away is waited out; anything else is a poison message.
            opts.OnException<Exception>(PoisonMessages.IsTransientInfrastructure)
                .RetryWithCooldown(1.Seconds(), 2.Seconds(), 5.Seconds())
                .Then.PauseThenRequeue(10.Seconds());
            opts.OnException<Exception>().RetryTimes(2)
                .Then.CustomAction(PoisonMessages.FailJobAndDeadLetterAsync, "Fail the job and dead-letter the message");
        });

        builder.Services.AddHostedService<AdapterStatusWatcher>(); // after Wolverine's, so its listener exists by then
        builder.Services.AddWorkerHeartbeat(configuration, parallelism);

        var app = builder.Build();
        // Decrypt and bind the config now: a problem with it stops the start, not the first job.
        if (!generatingCode) app.Services.GetRequiredService<TConfig>();
        app.MapNotificationHealth();
        app.MapNotificationMetrics();
        return app;
    }

    /// <summary>`codegen write`, run by `./ns codegen`: the worker writes its generated handler code and exits.</summary>
    private static bool GeneratesCode(string[] args) => args.FirstOrDefault() == "codegen";

    /// <summary>A one-line reason for a start-up failure the operator can fix; null for anything unexpected.</summary>
    private static string? Reason(Exception e) => e switch
    {
        WorkerStartupException s => s.Message,
        InvalidOperationException i when i.Message.StartsWith("Set ", StringComparison.Ordinal) => i.Message,
        BrokerUnreachableException b => $"RabbitMQ is unreachable: {b.InnerException?.Message ?? b.Message}",
        AggregateException a when a.InnerExceptions.Count == 1 => Reason(a.InnerException!),
        _ when e.InnerException is { } inner => Reason(inner),
        _ => null,
    };
}
