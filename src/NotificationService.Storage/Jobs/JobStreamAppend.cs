using System.Data.Common;
using System.Diagnostics.Metrics;
using Marten;
using Marten.Internal;
using Marten.Services;
using Npgsql;
using NpgsqlTypes;
using Weasel.Core;
using Weasel.Postgresql;
using Weasel.Storage;

namespace NotificationService.Storage.Jobs;

/// <summary>
/// Appends events to a job's stream and stores the job they make, in one statement, where Marten's append and its inline
/// projection send two (the append, then the document's upsert). Queued on a session (IDocumentSession.QueueOperation)
/// instead of Session.Events.Append, so Marten neither appends nor projects these events itself.
/// <para>The append is Marten's own function (mt_quick_append_events), with the version the caller decided from as its
/// expected version: anything appended since fails the statement (MT003, <see cref="IsVersionConflict"/>), and the
/// document's write with it. The document is <see cref="Job.Then"/> of that job, the same Apply methods Marten's projection
/// runs, written as Marten's upsert writes it: data, mt_version (the stream's version), mt_dotnet_type, the duplicated
/// columns (NotificationStore). Its insert is a data-modifying WITH that nothing references, which PostgreSQL runs to
/// completion at the statement's end, after the append (checked with notices in psql): the stream row is locked and its
/// version checked first, as in Marten's two statements, so a concurrent write of the same job waits on the stream row,
/// never the other way round.</para>
/// <para>Kept equal to Marten's path by Workers/when_an_outcome_commits_from_the_held_copy: every document it writes is
/// compared with Marten's live aggregation of the stream, and every column of mt_doc_job must be one it writes.</para>
/// </summary>
public sealed class JobStreamAppend(Job before, IReadOnlyList<object> events) : Marten.Internal.Operations.IStorageOperation
{
    /// <summary>The columns of mt_doc_job this statement writes: all of them (checked against the table by the test above).</summary>
    public static readonly string[] Columns =
        ["id", "data", "mt_version", "mt_dotnet_type", "mt_last_modified", "created_at", "finished_at", "service_id", "state", "adapter_name", "expire_at"];

    private const string Sql = $"""
        with job as (insert into {NotificationStore.Schema}.mt_doc_job (id, data, mt_version, mt_dotnet_type, mt_last_modified, created_at, finished_at, service_id, state, adapter_name, expire_at)
        values (?, ?, ?, ?, transaction_timestamp(), ?, ?, ?, ?, ?, ?)
        on conflict (id) do update set data = excluded.data, mt_version = excluded.mt_version, mt_dotnet_type = excluded.mt_dotnet_type,
        mt_last_modified = excluded.mt_last_modified, created_at = excluded.created_at, finished_at = excluded.finished_at,
        service_id = excluded.service_id, state = excluded.state, adapter_name = excluded.adapter_name, expire_at = excluded.expire_at)
        select {NotificationStore.Schema}.mt_quick_append_events(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """;

    /// <summary>The job the events were decided from (version 0: a new stream).</summary>
    public Job Before => before;

    /// <summary>The job as this append leaves it.</summary>
    public Job After { get; } = before.Then(events);

    public IReadOnlyList<object> Events => events;

    public Type DocumentType => typeof(Job);

    public OperationRole Role() => OperationRole.Upsert;

    public void ConfigureCommand(Weasel.Postgresql.ICommandBuilder builder, IStorageSession session)
    {
        var marten = (IMartenSession)session;
        var graph = (Marten.Events.EventGraph)marten.Options.Events;
        var serializer = marten.Serializer;
        var now = DateTimeOffset.UtcNow;
        var job = After;
        var mappings = events.Select(e => graph.EventMappingFor(e.GetType())).ToArray();
        (_eventTypeNames, _tenantId) = (mappings.Select(m => m.EventTypeName).ToArray(), marten.TenantId);

        var parameters = builder.AppendWithParameters(Sql);
        Set(parameters[0], job.Id, NpgsqlDbType.Uuid);
        Set(parameters[1], serializer.ToJson(job), NpgsqlDbType.Jsonb);
        Set(parameters[2], job.Version, NpgsqlDbType.Bigint);
        Set(parameters[3], typeof(Job).FullName!, NpgsqlDbType.Varchar);
        Set(parameters[4], job.CreatedAt, NpgsqlDbType.TimestampTz);
        Set(parameters[5], (object?)job.FinishedAt ?? DBNull.Value, NpgsqlDbType.TimestampTz);
        Set(parameters[6], job.ServiceId, NpgsqlDbType.Uuid);
        Set(parameters[7], job.State.ToString(), NpgsqlDbType.Varchar);
        Set(parameters[8], job.AdapterName, NpgsqlDbType.Varchar);
        Set(parameters[9], (object?)job.ExpireAt ?? DBNull.Value, NpgsqlDbType.TimestampTz);
        // mt_quick_append_events(stream, stream_type, tenantid, event_ids, event_types, dotnet_types, bodies, bdatas, timestamps, expected_version)
        Set(parameters[10], job.Id, NpgsqlDbType.Uuid);
        Set(parameters[11], graph.AggregateAliasFor(typeof(Job)), NpgsqlDbType.Varchar);
        Set(parameters[12], marten.TenantId, NpgsqlDbType.Varchar);
        Set(parameters[13], events.Select(_ => Guid.NewGuid()).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Uuid);
        Set(parameters[14], _eventTypeNames, NpgsqlDbType.Array | NpgsqlDbType.Varchar);
        Set(parameters[15], mappings.Select(m => m.DotNetTypeName).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Varchar);
        Set(parameters[16], events.Select(serializer.ToJson).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Jsonb);
        Set(parameters[17], new byte[]?[events.Count], NpgsqlDbType.Array | NpgsqlDbType.Bytea);
        Set(parameters[18], events.Select(_ => now).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz);
        Set(parameters[19], before.Version, NpgsqlDbType.Bigint);
    }

    private string[] _eventTypeNames = [];
    private string _tenantId = "";

    private static void Set(NpgsqlParameter parameter, object value, NpgsqlDbType type) =>
        (parameter.Value, parameter.NpgsqlDbType) = (value, type);

    public Task PostprocessAsync(DbDataReader reader, IList<Exception> exceptions, CancellationToken token) => Task.CompletedTask;

    /// <summary>What an append that found its stream moved on fails with (MT003, raised by mt_quick_append_events).</summary>
    public static bool IsVersionConflict(Exception e) => e is PostgresException { SqlState: "MT003" };

    /// <summary>
    /// Counts the events of committed appends on Marten's own appended-events counter (marten.event.append, with its tags),
    /// which Marten fills from the events its sessions appended and so never sees these. The same instrument: a Meter
    /// hands back the one it has for the same name and unit. In every session of the store (NotificationStore).
    /// </summary>
    public sealed class EventCounter(StoreOptions options) : DocumentSessionListenerBase
    {
        private Counter<long>? _appended;

        public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
        {
            var appended = _appended ??= options.OpenTelemetry.Meter.CreateCounter<long>("marten.event.append", "events");
            if (!appended.Enabled) return Task.CompletedTask;
            foreach (var append in session.PendingChanges.Operations().OfType<JobStreamAppend>())
                foreach (var name in append._eventTypeNames)
                    appended.Add(1, new KeyValuePair<string, object?>("event.type", name), new KeyValuePair<string, object?>("tenant.id", append._tenantId));
            return Task.CompletedTask;
        }
    }
}
