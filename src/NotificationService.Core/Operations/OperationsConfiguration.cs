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

    /// <summary>
    /// Operators' actions: the Operation projection (inline, like the Job), the re-drive's durable queue (one batch at a
    /// time, so batches of one re-drive never race each other) and the lock that keeps projection rebuilds apart.
    /// </summary>
    public static IServiceCollection AddOperations(this IServiceCollection services)
    {
        services.ConfigureMarten(opts =>
        {
            opts.Projections.Snapshot<Operation>(SnapshotLifecycle.Inline);
            opts.Schema.For<Operation>().Index(x => x.StartedAt);
        });
        services.ConfigureWolverine(opts =>
        {
            opts.PublishMessage<ContinueRedrive>().ToLocalQueue(RedriveQueue).UseDurableInbox();
            opts.LocalQueue(RedriveQueue).Sequential();
        });
        return services;
    }
}
