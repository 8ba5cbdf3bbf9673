using System.Text.Json;
using System.Text.Json.Serialization;
using JasperFx.Events.Projections;
using Marten;
using Wolverine;

namespace NotificationService.Core.Operations;

public static class OperationsConfiguration
{
    /// <summary>How a selection is recorded in an operation's stream: as the API spells it.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() }, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The local durable queue a re-drive's batches run on: a core restart resumes a re-drive where it was.</summary>
    public const string RedriveQueue = "redrive";

    /// <summary>The same for a dead-letter replay or discard by filter: its batches never race each other.</summary>
    public const string DeadLetterQueue = "dead-letter-actions";

    /// <summary>
    /// Operators' actions: the Operation projection (inline, like the Job), the durable queues of the re-drive and of the
    /// dead-letter actions by filter (one batch at a time, so batches of one operation never race each other).
    /// </summary>
    public static IServiceCollection AddOperations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(OperationsSettings.From(configuration));
        services.ConfigureMarten(opts =>
        {
            opts.Projections.Snapshot<Operation>(SnapshotLifecycle.Inline);
            opts.Schema.For<Operation>().Index(x => x.StartedAt);
        });
        services.ConfigureWolverine(opts =>
        {
            opts.PublishMessage<ContinueRedrive>().ToLocalQueue(RedriveQueue).UseDurableInbox();
            opts.LocalQueue(RedriveQueue).Sequential();
            opts.PublishMessage<ContinueDeadLetters>().ToLocalQueue(DeadLetterQueue).UseDurableInbox();
            opts.LocalQueue(DeadLetterQueue).Sequential();
        });
        return services;
    }
}

/// <summary>The <c>Operations:*</c> settings, checked at start-up.</summary>
/// <param name="DeadLetterBatchSize">dead letters per batch of a replay or discard by filter (default 1,000), each batch one transaction</param>
public sealed record OperationsSettings(int DeadLetterBatchSize)
{
    public static OperationsSettings From(IConfiguration configuration)
    {
        var batch = configuration.GetValue("Operations:DeadLetterBatchSize", DeadLetters.MaxPerRequest);
        if (batch is < 1 or > 10_000) throw new InvalidOperationException("Operations:DeadLetterBatchSize must be from 1 to 10000.");
        return new(batch);
    }
}
