using JasperFx;
using JasperFx.CodeGeneration;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Contracts;
using NotificationService.Storage;
using Wolverine;
using Wolverine.Configuration;
using Wolverine.Marten;
using Wolverine.RabbitMQ;
using Wolverine.RabbitMQ.Internal;

namespace NotificationService.Hosting;

public static class CritterStack
{
    public static string RequiredConnectionString(this IConfiguration configuration, string name, string hint = "") =>
        configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"Set ConnectionStrings:{name} (env ConnectionStrings__{name}){hint}.");

    /// <summary>
    /// Marten on the shared notification store, integrated with Wolverine's outbox. Each process family keeps its
    /// Wolverine envelopes in its own schema so that no process ever recovers another family's local work. Only the
    /// core <paramref name="migrates"/> the store: a worker's database role may not change it (db/roles.sql). Also raises
    /// the process's thread-pool minimum (<see cref="PreparedStatements.ReserveThreads"/>).
    /// </summary>
    public static MartenServiceCollectionExtensions.MartenConfigurationExpression AddNotificationMarten(
        this IServiceCollection services, string postgres, string wolverineSchema, Action<StoreOptions>? configure = null, bool migrates = true)
    {
        PreparedStatements.ReserveThreads();
        var marten = services.AddMarten(opts =>
            {
                opts.UseNotificationStore(postgres);
                opts.Schema.For<DataProtectionKey>();
                if (!migrates) opts.AutoCreateSchemaObjects = AutoCreate.None;
                configure?.Invoke(opts);
            })
            .UseLightweightSessions();
        if (migrates) marten.ApplyAllDatabaseChangesOnStartup();
        return marten.IntegrateWithWolverine(w =>
        {
            w.MessageStorageSchemaName = wolverineSchema;
            // Wolverine would follow Marten's AutoCreate; a worker still builds its envelope tables, in the schema its role owns.
            w.AutoCreate = AutoCreate.CreateOrUpdate;
        });
    }

    /// <summary>Envelopes a node takes per durability poll (Wolverine's default: 100): outbox rows released to any node, per
    /// destination, and due scheduled messages.</summary>
    public const int RecoveryBatchSize = 2_000;

    /// <summary>
    /// Age past which an outbox row still owned by a live node is released to any node (owner 0) and sent by recovery,
    /// which alone takes only dead nodes' rows. A node can commit a row and never send it while living on: PostgreSQL
    /// killed after the commit and before its answer (`./ns chaos` once left a job Queued so). The price: a sender still
    /// holding rows this old (a broker outage longer than this) may send them once more after recovery did.
    /// </summary>
    public static readonly TimeSpan OutboxStaleTime = TimeSpan.FromSeconds(60);

    /// <summary>The Wolverine settings every process uses: pre-generated code, transactions, durable outbox, the broker.</summary>
    public static RabbitMqTransportExpression UseNotificationDefaults(this WolverineOptions opts, string rabbitMq)
    {
        // Handlers and endpoints are generated ahead of time (./ns codegen) and compiled with the project: compiling them
        // at start-up kept Roslyn in memory, about 180 MB of each process. `./ns test` fails when the committed code is stale.
        opts.CodeGeneration.TypeLoadMode = TypeLoadMode.Static;
        opts.Policies.AutoApplyTransactions();
        opts.Policies.UseDurableOutboxOnAllSendingEndpoints();
        // While the broker is down, a sender keeps 100 messages in memory and hands the rest of its outbox back to any node
        // (owner 0); once it is back, the durability agent resumes those 100 per destination per poll (every 5 s), 20
        // messages/s. After a 3-minute outage under 50 offers/s that left thousands of accepted jobs queued for minutes
        // (bench/README, "Chaos: a three-minute RabbitMQ outage"). 2,000 per poll is more than this system delivers in 5 s.
        // The same bound caps the scheduled messages released per poll (send times, retries): 2,000 instead of 100.
        opts.Durability.RecoveryBatchSize = RecoveryBatchSize;
        opts.Durability.OutboxStaleTime = OutboxStaleTime;
        // Adapter queues are created at runtime, so the policy above (which only sees endpoints with publish rules)
        // never reaches them and Wolverine would send to them inline, dropping a message after three failed tries
        // while the broker is down. Every send this system makes goes through the outbox instead.
        opts.Policies.Add(new LambdaEndpointPolicy<RabbitMqEndpoint>((endpoint, _) =>
        {
            if (endpoint.Role == EndpointRole.Application && !endpoint.IsListener) endpoint.Mode = EndpointMode.Durable;
        }));
        // Fair sharing (AdapterQueues): adapter queues have priority levels, and whatever this process sends carries its
        // priority header over to the AMQP priority. Policies also reach the adapter queues created at runtime.
        opts.Policies.Add(new LambdaEndpointPolicy<RabbitMqQueue>((queue, _) =>
        {
            if (AdapterQueues.IsAdapterQueue(queue.QueueName)) AdapterQueues.Configure(queue);
        }));
        opts.Policies.Add(new LambdaEndpointPolicy<RabbitMqEndpoint>((endpoint, runtime) =>
        {
            if (endpoint.Role == EndpointRole.Application && !endpoint.IsListener && endpoint.EnvelopeMapper is null)
                endpoint.EnvelopeMapper = new AdapterQueues.PriorityMapper(new RabbitMqEnvelopeMapper(endpoint, runtime));
        }));
        opts.Services.AddSingleton(TimeProvider.System);

        return opts.UseRabbitMq(new Uri(rabbitMq))
            .AutoProvision()
            // No process sends a request over the broker and waits for its reply, so no node needs a reply queue of its
            // own; without one, the RabbitMQ users (./ns) can be refused every queue they do not use.
            .DisableSystemRequestReplyQueueDeclaration()
            // Without confirms a broker crash right after a publish could lose a message whose outbox row is gone.
            .ConfigureChannelCreation(c => (c.PublisherConfirmationsEnabled, c.PublisherConfirmationTrackingEnabled) = (true, true))
            .DeclareExchange(Topology.CancellationExchange, e => e.ExchangeType = ExchangeType.Fanout)
            .DeclareExchange(Topology.RetryExchange, e => e.ExchangeType = ExchangeType.Direct);
    }
}
