using NotificationService.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Wolverine;
using Wolverine.RabbitMQ;
using Wolverine.RabbitMQ.Internal;

namespace NotificationService.Hosting;

/// <summary>
/// Adapter queues are RabbitMQ priority queues, so that one service's backlog does not hold back another's: the core
/// gives each job a priority that falls as its service's recent volume on that adapter grows (FairShare in the core),
/// and the broker hands a worker the highest-priority message waiting. The priority travels as an envelope header, so
/// it survives the durable outbox and comes back with the message; a retry keeps the priority of the try it follows.
/// </summary>
public static class AdapterQueues
{
    public const string Prefix = "ns.adapter.";

    /// <summary>Levels 0..9: a classic queue keeps one internal queue per level, and RabbitMQ advises at most ten.</summary>
    public const byte MaxPriority = 9;

    public const string PriorityHeader = "ns-priority";

    // What Wolverine declares an adapter queue with (its native dead-lettering) plus the priority levels. A declaration
    // must match these exactly, or the broker refuses it (PRECONDITION_FAILED).
    private const string DeadLetterExchange = "wolverine-dead-letter-queue";
    private const string MaxPriorityArgument = "x-max-priority";

    public static bool IsAdapterQueue(string queue) => queue.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>Where an old queue's waiting messages are kept while the queue is recreated with priority levels.</summary>
    public static string AsideOf(string queue) => "ns.upgrading." + queue[Prefix.Length..];

    /// <summary>Declares the queue with priority levels; every process that declares an adapter queue goes through this.</summary>
    public static void Configure(IRabbitMqQueue queue) => queue.Arguments[MaxPriorityArgument] = (int)MaxPriority;

    public static DeliveryOptions WithPriority(byte priority) => new DeliveryOptions().WithHeader(PriorityHeader, priority.ToString());

    /// <summary>The priority a received message was sent with (null for one sent before priorities existed).</summary>
    public static byte? PriorityOf(Envelope envelope) =>
        envelope.Headers.TryGetValue(PriorityHeader, out var value) && byte.TryParse(value, out var priority) ? Math.Min(priority, MaxPriority) : null;

    /// <summary>The default envelope mapping, plus the header's priority as the AMQP message priority.</summary>
    public sealed class PriorityMapper(IRabbitMqEnvelopeMapper inner) : IRabbitMqEnvelopeMapper
    {
        public void MapEnvelopeToOutgoing(Envelope envelope, IBasicProperties outgoing)
        {
            inner.MapEnvelopeToOutgoing(envelope, outgoing);
            if (PriorityOf(envelope) is { } priority) outgoing.Priority = priority;
        }

        public void MapIncomingToEnvelope(Envelope envelope, IReadOnlyBasicProperties incoming) => inner.MapIncomingToEnvelope(envelope, incoming);
    }

    /// <summary>
    /// Upgrades adapter queues declared before they had priorities: RabbitMQ cannot change a queue's arguments, and a
    /// declaration with other arguments fails. Such a queue's waiting messages are moved aside (with publisher confirms,
    /// each acknowledged only once the broker has it), the queue is recreated with priorities, and they are moved back at
    /// the top priority, having waited longest. A crash in between leaves them in the side queue, which the next start
    /// moves back; a message moved twice is a duplicate delivery, which the workers already handle. Run before the
    /// process's Wolverine starts, by the core for every adapter and by a worker for its own queue.
    /// </summary>
    public static async Task PrepareAsync(string rabbitMq, IEnumerable<string> queues, ILogger logger, CancellationToken ct = default)
    {
        var factory = new ConnectionFactory { Uri = new Uri(rabbitMq) };
        await using var connection = await factory.CreateConnectionAsync(ct);
        foreach (var queue in queues.Where(IsAdapterQueue).Distinct())
        {
            // Outside the ns.adapter. names, so it is never taken for an adapter's queue (adapter names may contain dots);
            // the RabbitMQ users of ./ns may use ns.upgrading.<adapter> exactly as they may use ns.adapter.<adapter>.
            var aside = AsideOf(queue);
            if (!await TryDeclareAsync(connection, queue, ct))
            {
                logger.LogWarning("Adapter queue {Queue} has no priority levels (declared before fair sharing); recreating it", queue);
                await DeclareAsync(connection, aside, ct);
                while (true)
                {
                    await MoveAsync(connection, queue, aside, ct);
                    try
                    {
                        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
                        await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: true, cancellationToken: ct);
                        break;
                    }
                    catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 406) { } // a message arrived meanwhile
                }
                await DeclareAsync(connection, queue, ct);
            }
            if (await ExistsAsync(connection, aside, ct))
            {
                var moved = await MoveAsync(connection, aside, queue, ct);
                await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
                await channel.QueueDeleteAsync(aside, ifUnused: false, ifEmpty: true, cancellationToken: ct);
                logger.LogWarning("Adapter queue {Queue} now has priority levels; {Moved} waiting messages kept", queue, moved);
            }
        }
    }

    /// <summary>
    /// Runs <see cref="PrepareAsync"/> at start-up on the queues <paramref name="queues"/> lists. Register it before
    /// UseWolverine: hosted services start in order, so the queues are upgraded before Wolverine declares them.
    /// </summary>
    public static IServiceCollection AddAdapterQueueUpgrade(
        this IServiceCollection services, string rabbitMq, Func<IServiceProvider, CancellationToken, Task<IEnumerable<string>>> queues) =>
        services.AddHostedService(sp => new Upgrade(sp, rabbitMq, queues));

    private sealed class Upgrade(IServiceProvider services, string rabbitMq, Func<IServiceProvider, CancellationToken, Task<IEnumerable<string>>> queues)
        : IHostedService
    {
        public async Task StartAsync(CancellationToken ct)
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdapterQueues));
            try { await PrepareAsync(rabbitMq, await queues(services, ct), logger, ct); }
            catch (BrokerUnreachableException e)
            {
                // Start-up with the broker away goes on as before this check existed: Wolverine's own connection decides.
                logger.LogWarning(e, "RabbitMQ unreachable; adapter queues not checked for priority levels");
            }
        }

        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
    }

    private static Dictionary<string, object?> Arguments() =>
        new() { ["x-dead-letter-exchange"] = DeadLetterExchange, [MaxPriorityArgument] = (int)MaxPriority };

    private static async Task DeclareAsync(IConnection connection, string queue, CancellationToken ct)
    {
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, Arguments(), cancellationToken: ct);
    }

    /// <summary>False when the queue exists with other arguments (the broker closes the channel with 406).</summary>
    private static async Task<bool> TryDeclareAsync(IConnection connection, string queue, CancellationToken ct)
    {
        try { await DeclareAsync(connection, queue, ct); return true; }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 406) { return false; }
    }

    private static async Task<bool> ExistsAsync(IConnection connection, string queue, CancellationToken ct)
    {
        try
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            await channel.QueueDeclarePassiveAsync(queue, ct);
            return true;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404) { return false; }
    }

    /// <summary>
    /// Through the retry exchange, not the default one: a worker's RabbitMQ user may publish only there (not straight to
    /// a queue), and may bind its own two queues to it, each by its own name as the workers' retries do.
    /// </summary>
    private static async Task<int> MoveAsync(IConnection connection, string from, string to, CancellationToken ct)
    {
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), ct);
        await channel.ExchangeDeclareAsync(Topology.RetryExchange, RabbitMQ.Client.ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.QueueBindAsync(to, Topology.RetryExchange, routingKey: to, cancellationToken: ct);
        var moved = 0;
        while (await channel.BasicGetAsync(from, autoAck: false, ct) is { } message)
        {
            var properties = new BasicProperties(message.BasicProperties) { Priority = MaxPriority };
            await channel.BasicPublishAsync(Topology.RetryExchange, to, mandatory: true, properties, message.Body, ct); // returns once confirmed
            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, ct);
            moved++;
        }
        return moved;
    }
}
