using System.Text;
using System.Text.Json;
using Marten;
using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using NotificationService.Storage.Adapters;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Runtime.Serialization;

namespace NotificationService.Core.Operations;

/// <summary>
/// Which dead letters an operator means: by id, or by filter (adapter name, message type, exception type, failure shape
/// as the groups list it, and a window on the time the message was sent), or the ids that match a filter when both are
/// given. An empty selection is refused rather than read as "all": a replay or discard of everything must be asked for
/// by a filter.
/// </summary>
public sealed record DeadLetterSelection(
    Guid[]? Ids = null, string? Adapter = null, string? MessageType = null, string? ExceptionType = null, string? Failure = null,
    DateTimeOffset? From = null, DateTimeOffset? To = null, bool DryRun = false)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsFilter => Adapter is not null || MessageType is not null || ExceptionType is not null || Failure is not null || From is not null || To is not null;

    /// <summary>
    /// A replay or discard by filter alone is not bounded by the request: it runs as an operation that walks every match
    /// in batches (<see cref="ContinueDeadLettersHandler"/>). By ids (at most 1,000), and every dry run, it is answered at once.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool RunsAsOperation => Ids is not { Length: > 0 } && !DryRun;

    public IReadOnlyList<(string Field, string Message)> Errors(Adapter? adapter)
    {
        var errors = new List<(string, string)>();
        if (Ids is not { Length: > 0 } && !IsFilter) errors.Add(("ids", "Give the dead letters' ids or at least one filter field (adapter, messageType, exceptionType, failure, from, to)."));
        if (Ids is { Length: > DeadLetters.MaxIds }) errors.Add(("ids", $"At most {DeadLetters.MaxIds} ids at once."));
        if (Adapter is not null && adapter is null) errors.Add(("adapter", "No adapter has this name."));
        if (DeadLetters.WindowError(From, To) is { } window) errors.Add(window);
        return errors;
    }
}

/// <summary>The adapter a listing's <c>adapter</c> filter names, looked up before the checks (an unknown name is a 422).</summary>
public sealed record AdapterFilter(string? Name, Adapter? Found)
{
    public static async Task<AdapterFilter> LoadAsync(string? adapter, IQuerySession session, CancellationToken ct) =>
        new(adapter, await DeadLetters.AdapterNamedAsync(session, adapter, ct));

    public ProblemDetails? Problem => Name is not null && Found is null ? Problems.Invalid(("adapter", "No adapter has this name.")) : null;
}

/// <summary>Where a walk over dead letters (newest first) stands: the last one it took.</summary>
public sealed record DeadLetterCursor(DateTimeOffset SentAt, Guid Id);

/// <summary>One dead-lettered message, as Wolverine stored it, with the job it was for when it was a job's.</summary>
/// <param name="Store">"core" (the core's own durable queues) or "workers" (the adapter workers' envelope schema)</param>
/// <param name="Failure">the exception message with ids and numbers masked: what a group of the same failure shares</param>
/// <param name="SentAt">when the message was sent (Wolverine stores no time of the failure; a job's is on the job)</param>
public sealed record DeadLetter(
    Guid Id, string Store, string MessageType, string? ReceivedAt, string ExceptionType, string ExceptionMessage, string Failure,
    DateTimeOffset SentAt, bool Replayable, Guid? JobId, string? Adapter)
{
    /// <summary>The job message, read from the stored envelope; null for any other message, or a body that cannot be read.</summary>
    public DeliverJob? Job { get; init; }
}

/// <summary>Dead letters of one failure: same exception type and message shape, on the same message type.</summary>
public sealed record DeadLetterGroup(string ExceptionType, string Failure, string MessageType, int Count, DateTimeOffset FirstSentAt, DateTimeOffset LastSentAt, IReadOnlyList<Guid> SampleIds);

/// <summary>
/// The dead letters a replay or discard request selects, read before it decides: at most
/// <see cref="DeadLetters.MaxPerRequest"/> of the <see cref="Matched"/> ones (a dry run's preview), or only a sample
/// when the action runs as an operation over the whole set.
/// </summary>
public sealed record SelectedDeadLetters(Adapter? Adapter, int Matched, IReadOnlyList<DeadLetter> Letters, IReadOnlyList<(string Field, string Message)> Errors)
{
    public static async Task<SelectedDeadLetters> LoadAsync(DeadLetterSelection? request, IQuerySession session, CancellationToken ct)
    {
        if (request is null) return new(null, 0, [], [("ids", "Send a JSON body with ids or a filter.")]);
        var adapter = await DeadLetters.AdapterNamedAsync(session, request.Adapter, ct);
        if (request.Errors(adapter) is { Count: > 0 } errors) return new(adapter, 0, [], errors);
        var (matched, letters) = await DeadLetters.ReadAsync(session, request, adapter, await DeadLetters.AdaptersByQueueUriAsync(session, ct),
            request.RunsAsOperation ? DeadLetters.SampleSize : DeadLetters.MaxPerRequest, 0, ct);
        return new(adapter, matched, letters, []);
    }

    public ProblemDetails Problem => Errors.Count > 0 ? Problems.Invalid([.. Errors]) : WolverineContinue.NoProblems;

    public IReadOnlyList<Guid> Sample => Letters.Take(DeadLetters.SampleSize).Select(l => l.Id).ToList();
}

/// <summary>The dead-letter rows an action removes or hands back to Wolverine, in the action's transaction.</summary>
public sealed record ChangeDeadLetterRows(IReadOnlyList<DeadLetter> Delete, IReadOnlyList<DeadLetter> MarkReplayable) : IMartenOp
{
    public void Execute(IDocumentSession session)
    {
        foreach (var (store, ids) in Delete.GroupBy(l => l.Store).Select(g => (g.Key, g.Select(l => l.Id).ToArray())))
            session.QueueSqlCommand($"DELETE FROM {DeadLetters.SchemaOf(store)}.{DeadLetters.Table} WHERE id = ANY(?)", ids);
        // What Wolverine's IDeadLetters.ReplayAsync does: its durability agent then moves the rows into the inbox.
        foreach (var (store, ids) in MarkReplayable.GroupBy(l => l.Store).Select(g => (g.Key, g.Select(l => l.Id).ToArray())))
            session.QueueSqlCommand($"UPDATE {DeadLetters.SchemaOf(store)}.{DeadLetters.Table} SET replayable = true WHERE id = ANY(?)", ids);
    }
}

/// <summary>
/// Reading Wolverine's durable dead-letter tables. There are two: the core's envelope schema holds its own durable queues'
/// dead letters, and the workers' (<see cref="WorkerRole.EnvelopeSchema"/>) the jobs' poison messages
/// (Adapters.Runtime/PoisonMessages.cs). Wolverine's IDeadLetters reads only the core's store, so the admin API reads
/// both tables with the columns Wolverine writes (Wolverine.RDBMS DatabaseConstants) and the envelope serializer
/// Wolverine reads its rows with.
/// </summary>
public static class DeadLetters
{
    public const string CoreSchema = "wolverine";
    public const string Table = "wolverine_dead_letters";
    public const int MaxIds = 1000;
    public const int SampleSize = 10;
    public const int MaxPerRequest = 1000;

    /// <summary>The one check of a from/to window every listing, replay, discard and re-drive takes.</summary>
    public static (string Field, string Message)? WindowError(DateTimeOffset? from, DateTimeOffset? to) =>
        from > to ? ("from", "Must not be after 'to'.") : null;

    public static string StoreOf(string schema) => schema == CoreSchema ? "core" : "workers";
    public static string SchemaOf(string store) => store == "core" ? CoreSchema : WorkerRole.EnvelopeSchema;

    // Ids, addresses and numbers vary between messages of one failure; the rest of the message is its shape. An address
    // (a provider's "550 <ann@example.test>") is masked first, so a group, and a filter copied into an operation, never
    // names a recipient.
    private const string FailureSql =
        "regexp_replace(regexp_replace(regexp_replace(coalesce(exception_message, ''), '\\S+@\\S+', '{address}', 'g'), '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '{id}', 'g'), '[0-9]+', '{n}', 'g')";

    /// <summary>The rows of both tables (a table not created yet, as before any worker started, is left out).</summary>
    private static async Task<string?> SourceAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var parts = new List<string>();
        foreach (var schema in new[] { CoreSchema, WorkerRole.EnvelopeSchema })
        {
            await using var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection) { Parameters = { new() { Value = $"{schema}.{Table}" } } };
            if ((bool)(await exists.ExecuteScalarAsync(ct))!)
                parts.Add($"SELECT '{schema}' AS schema, id, body, message_type, received_at, coalesce(exception_type, '') AS exception_type, coalesce(exception_message, '') AS exception_message, {FailureSql} AS failure, coalesce(sent_at, 'epoch') AS sent_at, replayable FROM {schema}.{Table}");
        }
        return parts.Count == 0 ? null : string.Join(" UNION ALL ", parts);
    }

    /// <summary>The address an adapter's messages are received at: what its dead letters' <c>received_at</c> holds.</summary>
    public static string? ReceivedAt(Adapter? adapter) => adapter is null ? null : Topology.QueueUri(adapter.Queue).ToString();

    private static string Where(DeadLetterSelection s, string? receivedAt, NpgsqlCommand command)
    {
        var where = new StringBuilder("WHERE true");
        void Add(string condition, object value) { command.Parameters.Add(new NpgsqlParameter { Value = value }); where.Append($" AND {condition.Replace("?", $"${command.Parameters.Count}")}"); }
        if (s.Ids is { Length: > 0 } ids) Add("id = ANY(?)", ids);
        if (receivedAt is not null) Add("received_at = ?", receivedAt);
        if (s.MessageType is { } type) Add("message_type = ?", type);
        if (s.ExceptionType is { } exception) Add("exception_type = ?", exception);
        if (s.Failure is { } failure) Add("failure = ?", failure);
        // Npgsql writes only UTC DateTimeOffsets to timestamptz (another offset throws): the same instant, in UTC.
        if (s.From is { } from) Add("sent_at >= ?", from.ToUniversalTime());
        if (s.To is { } to) Add("sent_at < ?", to.ToUniversalTime());
        return where.ToString();
    }

    private static async Task<NpgsqlConnection> OpenAsync(IQuerySession session, CancellationToken ct)
    {
        var connection = session.Database.CreateConnection();
        await connection.OpenAsync(ct);
        return connection;
    }

    public static async Task<IReadOnlyList<DeadLetterGroup>> GroupsAsync(IQuerySession session, DeadLetterSelection selection, Adapter? adapter, CancellationToken ct)
    {
        await using var connection = await OpenAsync(session, ct);
        if (await SourceAsync(connection, ct) is not { } source) return [];
        await using var command = new NpgsqlCommand { Connection = connection };
        command.CommandText = $"""
            SELECT exception_type, failure, message_type, count(*)::int, min(sent_at), max(sent_at), (array_agg(id ORDER BY sent_at DESC))[1:{SampleSize}]
            FROM ({source}) dl {Where(selection, ReceivedAt(adapter), command)}
            GROUP BY exception_type, failure, message_type ORDER BY count(*) DESC, exception_type, failure
            """;
        var groups = new List<DeadLetterGroup>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            groups.Add(new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<Guid[]>(6)));
        return groups;
    }

    public static async Task<(int Total, IReadOnlyList<DeadLetter> Items)> ReadAsync(
        IQuerySession session, DeadLetterSelection selection, Adapter? adapter, IReadOnlyDictionary<string, string> adapterByQueueUri,
        int limit, int offset, CancellationToken ct, DeadLetterCursor? after = null)
    {
        await using var connection = await OpenAsync(session, ct);
        if (await SourceAsync(connection, ct) is not { } source) return (0, []);
        await using var command = new NpgsqlCommand { Connection = connection };
        var where = Where(selection, ReceivedAt(adapter), command);
        // A listing's next page by keyset (sent_at, id descending, as the operations' walk): the total is then the
        // selection's, counted apart from the window after the cursor.
        var keyset = "";
        if (after is { } cursor)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = cursor.SentAt.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter { Value = cursor.Id });
            keyset = $" AND (sent_at, id) < (${command.Parameters.Count - 1}, ${command.Parameters.Count})";
        }
        command.CommandText = $"""
            SELECT schema, id, body, message_type, received_at, exception_type, exception_message, failure, sent_at, replayable, count(*) OVER ()::int
            FROM ({source}) dl {where}{keyset} ORDER BY sent_at DESC, id DESC LIMIT {limit} OFFSET {offset}
            """;
        var items = new List<DeadLetter>();
        var total = 0;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            items.Add(Row(reader, adapterByQueueUri));
            total = reader.GetInt32(10);
        }
        if ((items.Count == 0 && offset > 0) || after is not null)
        {
            // Past the last page, or a page by cursor: the count still answers how many there are.
            await reader.CloseAsync();
            if (after is not null) { command.Parameters.RemoveAt(command.Parameters.Count - 1); command.Parameters.RemoveAt(command.Parameters.Count - 1); }
            command.CommandText = $"SELECT count(*)::int FROM ({source}) dl {where}";
            total = (int)(await command.ExecuteScalarAsync(ct))!;
        }
        return (total, items);
    }

    /// <summary>
    /// The next <paramref name="limit"/> dead letters the selection matches after <paramref name="after"/>, newest first,
    /// by the keyset (sent_at, id): a batch of an operation that walks the whole match set. Rows it leaves in place (a
    /// replay's skipped ones) are behind the cursor, so the walk always moves on.
    /// </summary>
    public static async Task<IReadOnlyList<DeadLetter>> NextAsync(
        IQuerySession session, DeadLetterSelection selection, string? receivedAt, DeadLetterCursor? after, int limit,
        IReadOnlyDictionary<string, string> adapterByQueueUri, CancellationToken ct)
    {
        await using var connection = await OpenAsync(session, ct);
        if (await SourceAsync(connection, ct) is not { } source) return [];
        await using var command = new NpgsqlCommand { Connection = connection };
        var where = Where(selection, receivedAt, command);
        if (after is { } cursor)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = cursor.SentAt.ToUniversalTime() });
            command.Parameters.Add(new NpgsqlParameter { Value = cursor.Id });
            where += $" AND (sent_at, id) < (${command.Parameters.Count - 1}, ${command.Parameters.Count})";
        }
        command.CommandText = $"""
            SELECT schema, id, body, message_type, received_at, exception_type, exception_message, failure, sent_at, replayable
            FROM ({source}) dl {where} ORDER BY sent_at DESC, id DESC LIMIT {limit}
            """;
        var items = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) items.Add(Row(reader, adapterByQueueUri));
        return items;
    }

    private static DeadLetter Row(NpgsqlDataReader reader, IReadOnlyDictionary<string, string> adapterByQueueUri)
    {
        var receivedAt = reader.IsDBNull(4) ? null : reader.GetString(4);
        var job = JobMessage(reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2));
        return new DeadLetter(reader.GetGuid(1), StoreOf(reader.GetString(0)), reader.GetString(3), receivedAt, reader.GetString(5),
            reader.GetString(6), reader.GetString(7), reader.GetFieldValue<DateTimeOffset>(8), reader.GetBoolean(9), job?.JobId,
            receivedAt is not null && adapterByQueueUri.TryGetValue(receivedAt, out var name) ? name : null) { Job = job };
    }

    /// <summary>A job's message from a stored envelope (Wolverine's binary envelope holding the JSON body), or null.</summary>
    public static DeliverJob? JobMessage(byte[]? body)
    {
        if (body is not { Length: > 0 }) return null;
        try
        {
            var envelope = EnvelopeSerializer.Deserialize(body);
            if (envelope.Data is not { Length: > 0 } data) return null;
            var message = JsonSerializer.Deserialize<DeliverJob>(data, new JsonSerializerOptions(JsonSerializerDefaults.Web));
            return message is { JobId: var id } && id != Guid.Empty ? message : null;
        }
        // Bytes the worker role can write: any malformed body (FormatException, OverflowException, ...) is "not a job's
        // message", never a failed listing.
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The adapters' names by the address their queue's messages are received at (a worker's dead letter's <c>received_at</c>).</summary>
    public static async Task<IReadOnlyDictionary<string, string>> AdaptersByQueueUriAsync(IQuerySession session, CancellationToken ct) =>
        (await session.Query<Adapter>().Select(a => new { a.Queue, a.Name }).ToListAsync(ct))
        .ToDictionary(a => Topology.QueueUri(a.Queue).ToString(), a => a.Name);

    public static Task<Adapter?> AdapterNamedAsync(IQuerySession session, string? name, CancellationToken ct) =>
        name is null ? Task.FromResult<Adapter?>(null) : session.Query<Adapter>().FirstOrDefaultAsync(a => a.Name == name, ct);

}
