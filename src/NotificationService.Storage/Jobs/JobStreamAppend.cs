using System.Data.Common;
using JasperFx.Core.Exceptions;
using JasperFx.Events;
using Marten;
using Marten.Internal;
using Marten.Services;
using Npgsql;
using NpgsqlTypes;
using Weasel.Core;
using Weasel.Postgresql;
using Weasel.Postgresql.Functions;
using Weasel.Storage;

namespace NotificationService.Storage.Jobs;

/// <summary>
/// Appends events to a job's stream and stores the job they make, in one statement, where Marten's append and its inline
/// projection send two (the append, then the document's upsert). Queued on a session (IDocumentSession.QueueOperation)
/// instead of Session.Events.Append, so Marten neither appends nor projects these events itself.
/// <para>The statement calls <c>write_job</c> (<see cref="WriteJobFunction"/>), which appends through Marten's own function
/// (mt_quick_append_events), with the version the caller decided from as its expected version: anything appended since
/// fails the statement (MT003, <see cref="TryTransform"/>), and the document's write with it. The document is
/// <see cref="Job.Then"/> of that job, the same Apply methods Marten's projection runs, written as Marten's upsert writes
/// it: data, mt_version (the stream's version), mt_dotnet_type, the duplicated columns (NotificationStore). The append
/// comes first: the stream row is locked and its version checked before the document is written, as in Marten's two
/// statements, so a concurrent write of the same job waits on the stream row, never the other way round.</para>
/// <para>A function rather than the statement itself, because Weasel builds every command's text afresh, character by
/// character, and the statement's 950 characters were about 7 % of all the core allocated at the maximum rate
/// (bench/README.md, "What a job allocates, and where the core's memory and CPU are").</para>
/// <para>Once the statement has run, its events (with the sequence numbers and versions the function returned) join the
/// session's unit of work as a stream Marten appended: a transaction that then fails gets Marten's tombstones for those
/// sequence numbers, so the async daemon does not wait out a gap, and a commit's listeners see them (Marten's
/// appended-events counter, the core's job metrics). Its failures read as Marten's own: a stream that moved on as
/// EventStreamUnexpectedMaxEventIdException, a new stream that exists as ExistingStreamIdCollisionException.</para>
/// <para>Kept equal to Marten's path by Workers/when_an_outcome_commits_from_the_held_copy: every document it writes is
/// compared with the one Marten's live aggregation of the stream makes, and every column of mt_doc_job must be one it
/// writes.</para>
/// </summary>
public sealed class JobStreamAppend(Job before, IReadOnlyList<object> events)
    : Marten.Internal.Operations.IStorageOperation, IExceptionTransform
{
    /// <summary>The columns of mt_doc_job this statement writes: all of them (checked against the table by the test above).</summary>
    public static string[] Columns => [.. Written.Select(c => c.Column)];

    /// <summary>The job's write: the append, then the document. PL/pgSQL, so PostgreSQL keeps both statements' plans per
    /// connection. Marten's binary bodies (bdatas) are NULL: no job event has one. The signature is spelled as PostgreSQL
    /// prints it (pg_get_functiondef): Weasel compares the two at every start, and would otherwise drop and create the
    /// function each time (Storage/when_the_job_write_function_is_migrated).</summary>
    public static Function WriteJobFunction() => Function.ForSql($$"""
        CREATE OR REPLACE FUNCTION {{NotificationStore.Schema}}.write_job(p_id uuid, p_data jsonb, p_version bigint, p_dotnet_type character varying, p_created_at timestamp with time zone, p_finished_at timestamp with time zone, p_service_id uuid, p_state character varying, p_adapter_name character varying, p_expire_at timestamp with time zone, p_stream_type character varying, p_tenant character varying, p_event_ids uuid[], p_event_types character varying[], p_dotnet_types character varying[], p_bodies jsonb[], p_timestamps timestamp with time zone[], p_expected_version bigint)
         RETURNS bigint[]
         LANGUAGE plpgsql
        AS $function$
        DECLARE
          appended bigint[];
        BEGIN
          appended := {{NotificationStore.Schema}}.mt_quick_append_events(p_id, p_stream_type, p_tenant, p_event_ids,
            p_event_types, p_dotnet_types, p_bodies, NULL, p_timestamps, p_expected_version);
          INSERT INTO {{NotificationStore.Schema}}.mt_doc_job ({{string.Join(", ", Written.Select(c => c.Column))}})
          VALUES ({{string.Join(", ", Written.Select(c => c.Value))}})
          ON CONFLICT (id) DO UPDATE SET {{string.Join(", ", Written.Skip(1).Select(c => $"{c.Column} = excluded.{c.Column}"))}};
          RETURN appended;
        END;
        $function$;
        """);

    /// <summary>Each column of mt_doc_job and what write_job writes to it.</summary>
    private static readonly (string Column, string Value)[] Written =
    [
        ("id", "p_id"), ("data", "p_data"), ("mt_version", "p_version"), ("mt_dotnet_type", "p_dotnet_type"),
        ("mt_last_modified", "transaction_timestamp()"), ("created_at", "p_created_at"), ("finished_at", "p_finished_at"),
        ("service_id", "p_service_id"), ("state", "p_state"), ("adapter_name", "p_adapter_name"), ("expire_at", "p_expire_at"),
    ];

    private const string Sql = $"select {NotificationStore.Schema}.write_job(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

    private StreamAction? _stream;
    private IUnitOfWork? _unitOfWork;

    /// <summary>The job as this append leaves it.</summary>
    public Job After { get; } = before.Then(events);

    public Type DocumentType => typeof(Job);

    public OperationRole Role() => OperationRole.Upsert;

    public void ConfigureCommand(Weasel.Postgresql.ICommandBuilder builder, IStorageSession session)
    {
        var marten = (IMartenSession)session;
        var graph = (Marten.Events.EventGraph)marten.Options.Events;
        var serializer = marten.Serializer;
        var job = After;
        // The events as Marten builds them for an append (type names from its registry), with what its append gives them.
        // Built once: the stream joins the unit of work after the statement ran (PostprocessAsync), with these ids.
        _stream ??= StreamOf(graph, marten.TenantId, job.Id);
        _unitOfWork = ((IDocumentSession)session).PendingChanges;

        var parameters = builder.AppendWithParameters(Sql);
        Set(parameters[0], job.Id, NpgsqlDbType.Uuid);
        // UTF-8 bytes as Marten's own upserts bind them, not a string: ToJson transcodes the serializer's bytes to a string
        // that Npgsql then encodes back to UTF-8.
        serializer.WriteToParameter(parameters[1], job);
        Set(parameters[2], job.Version, NpgsqlDbType.Bigint);
        Set(parameters[3], typeof(Job).FullName!, NpgsqlDbType.Varchar);
        Set(parameters[4], job.CreatedAt, NpgsqlDbType.TimestampTz);
        Set(parameters[5], (object?)job.FinishedAt ?? DBNull.Value, NpgsqlDbType.TimestampTz);
        Set(parameters[6], job.ServiceId, NpgsqlDbType.Uuid);
        Set(parameters[7], job.State.ToString(), NpgsqlDbType.Varchar);
        Set(parameters[8], job.AdapterName, NpgsqlDbType.Varchar);
        Set(parameters[9], (object?)job.ExpireAt ?? DBNull.Value, NpgsqlDbType.TimestampTz);
        // The append's: stream type, tenant, event ids, types, .NET types, bodies, timestamps, expected version.
        Set(parameters[10], graph.AggregateAliasFor(typeof(Job)), NpgsqlDbType.Varchar);
        Set(parameters[11], marten.TenantId, NpgsqlDbType.Varchar);
        Set(parameters[12], _stream.Events.Select(e => e.Id).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Uuid);
        Set(parameters[13], _stream.Events.Select(e => e.EventTypeName).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Varchar);
        Set(parameters[14], _stream.Events.Select(e => e.DotNetTypeName).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Varchar);
        Set(parameters[15], _stream.Events.Select(e => serializer.ToJson(e.Data)).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Jsonb);
        Set(parameters[16], _stream.Events.Select(e => e.Timestamp).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz);
        Set(parameters[17], before.Version, NpgsqlDbType.Bigint);
    }

    private StreamAction StreamOf(Marten.Events.EventGraph graph, string tenantId, Guid id)
    {
        var now = graph.TimeProvider.GetUtcNow();
        var stream = before.Version == 0 ? StreamAction.Start(graph, id, [.. events]) : StreamAction.Append(graph, id, [.. events]);
        (stream.TenantId, stream.AggregateType) = (tenantId, typeof(Job));
        foreach (var e in stream.Events) (e.Id, e.Timestamp, e.TenantId, e.StreamId) = (Guid.CreateVersion7(now), now, tenantId, id);
        return stream;
    }

    private static void Set(NpgsqlParameter parameter, object value, NpgsqlDbType type) =>
        (parameter.Value, parameter.NpgsqlDbType) = (value, type);

    /// <summary>The function returns the stream's version, then each event's sequence number.</summary>
    public async Task PostprocessAsync(DbDataReader reader, IList<Exception> exceptions, CancellationToken token)
    {
        if (_stream is null || !await reader.ReadAsync(token)) return;
        var values = await reader.GetFieldValueAsync<long[]>(0, token);
        for (var i = 0; i < _stream.Events.Count; i++) (_stream.Events[i].Version, _stream.Events[i].Sequence) = (before.Version + i + 1, values[i + 1]);
        _stream.Version = values[0];
        // Once, though Marten's resilience pipeline may run a batch again. (A session is not saved again after a failed
        // commit, here or by Marten's own appends: its unit of work would append these events through Marten as well.)
        var streams = _unitOfWork!.Streams();
        if (!streams.Contains(_stream)) streams.Add(_stream);
    }

    /// <summary>
    /// Marten asks every operation of a failed batch and throws the first answer, so only this statement's own failure is
    /// claimed: the function names the stream and its actual version ("Stream version mismatch on '{id}': expected 2,
    /// actual 3").
    /// </summary>
    public bool TryTransform(Exception original, out Exception transformed)
    {
        transformed = original;
        if ((original as PostgresException ?? original.InnerException as PostgresException) is not { SqlState: "MT003" } failure
            || !failure.MessageText.Contains($"'{After.Id}'", StringComparison.Ordinal)) return false;
        var actual = System.Text.RegularExpressions.Regex.Match(failure.MessageText, @"actual (\d+)") is { Success: true } m ? long.Parse(m.Groups[1].Value) : -1;
        transformed = before.Version == 0 && actual > 0
            ? new Marten.Exceptions.ExistingStreamIdCollisionException(After.Id, typeof(Job))
            : new EventStreamUnexpectedMaxEventIdException(After.Id, typeof(Job), before.Version, actual);
        return true;
    }
}
