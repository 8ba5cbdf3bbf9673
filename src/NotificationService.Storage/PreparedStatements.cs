using System.Collections.Concurrent;
using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;

namespace NotificationService.Storage;

/// <summary>
/// Prepares the statements a process keeps repeating, explicitly, so PostgreSQL parses and plans each once per
/// connection instead of on every execution (bench/README.md, "Statement preparation, again").
/// <para>Not Npgsql's automatic preparation (<see cref="NotificationStore.PooledConnectionString(string)"/>): it records a
/// statement as prepared when PostgreSQL has parsed it, but learns what rows it returns only after its parameters are
/// bound. When binding fails on the very execution that prepares it (a value PostgreSQL refuses, such as a number jsonb
/// cannot store), the connection goes back to the pool remembering a statement that returns rows as one that returns
/// none, and the next request on it, often another tenant's, fails ("unexpected backend message DataRow", then
/// statements out of step; npgsql/npgsql#6391). Explicit preparation asks for the rows' description in a round trip of
/// its own, before any execution, so a failed execution changes nothing Npgsql remembers
/// (Storage/when_a_prepared_statement_fails_to_bind).</para>
/// <para>Explicitly prepared statements stay on their connection until it closes; Npgsql keeps no bound on them. So a
/// statement is prepared only from its <see cref="UsesBeforePreparing"/>th use in this process on, and at most
/// <see cref="MaxStatements"/> distinct ones are: one-off statements (administration, a rare search) run unprepared.</para>
/// <para>Named prepared statements live in the server session: behind PgBouncer they need session pooling, or PgBouncer
/// 1.21 or later with max_prepared_statements above 0. Otherwise set <see cref="SwitchVariable"/> to false and nothing is
/// prepared (read once per process).</para>
/// </summary>
public static class PreparedStatements
{
    public const int UsesBeforePreparing = 3;
    /// <summary>At most 128: a <see cref="StatementSet"/> has a bit for each.</summary>
    public const int MaxStatements = 128;

    /// <summary>The environment variable (core and workers alike) that turns explicit preparation off: <c>false</c>.</summary>
    public const string SwitchVariable = "NS_PREPARE_STATEMENTS";

    public static readonly bool Enabled = Switch(Environment.GetEnvironmentVariable(SwitchVariable));

    /// <summary>On unless the value is <c>false</c>; anything but empty, true or false is a configuration error.</summary>
    public static bool Switch(string? value) =>
        string.IsNullOrWhiteSpace(value) || (bool.TryParse(value.Trim(), out var on)
            ? on
            : throw new InvalidOperationException($"{SwitchVariable} must be true, false or empty, not '{value}'."));

    /// <summary>
    /// The threads that may be in a synchronous prepare at once: one per core. Marten's only hook before a statement runs
    /// is synchronous, so a prepare blocks its thread for a round trip, and on Linux the socket's answer is sometimes handed
    /// over through the thread pool, which counts the blocked threads as busy. Unbounded, they filled the pool and the core
    /// stood still for 8-20 s at a time (bench/README.md, "Callbacks: a thread-pool stall"). A statement that finds no
    /// slot runs unprepared this once, and <see cref="ReserveThreads"/> keeps the pool's goal above the bound.
    /// </summary>
    public static readonly PrepareSlots Slots = new(Environment.ProcessorCount);

    /// <summary>
    /// Keeps the thread pool's minimum at the bound plus one thread per core, so the threads that may block in a prepare
    /// never take the last ones. Process-wide, once per process, where Marten is added.
    /// </summary>
    public static void ReserveThreads()
    {
        if (!Enabled) return;
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        var needed = Slots.Max + Environment.ProcessorCount;
        if (workers < needed) ThreadPool.SetMinThreads(needed, completionPorts);
    }

    /// <summary>
    /// Marks a statement whose best plan depends on its parameters' values (a job search for a value one offer in 10,000
    /// holds, or one in three): it is never prepared, so PostgreSQL plans each execution for its values. Prepared, such a
    /// search can go over to PostgreSQL's generic plan on a connection and stay there, seconds instead of a millisecond
    /// (bench/README.md, "A search's plan, switched to generic on a connection").
    /// </summary>
    /// <remarks>A comment, anywhere but at the start: Marten takes a statement that does not start with <c>select</c> for a
    /// where clause. A batch holding one marked statement runs wholly unprepared.</remarks>
    public const string PlannedEachTime = " /* planned each time */";

    /// <summary>Statements not yet admitted are counted in a table of this many; when full it is cleared, so a one-off
    /// text cannot hold a place a statement still to become hot needs (it then counts its uses again).</summary>
    public const int MaxCandidates = 4096;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, int> Candidates = new();
    /// <summary>Each admitted statement with its number, 0 to <see cref="MaxStatements"/> - 1: its bit in a
    /// <see cref="StatementSet"/>.</summary>
    private static readonly ConcurrentDictionary<string, int> Admitted = new();
    private static int _admitted, _capReached;

    /// <summary>Before Marten runs a batch on its open connection (a session's changes: the per-job writes).</summary>
    public static void Prepare(NpgsqlBatch batch) => Prepare(batch, Enabled);

    /// <summary>As <see cref="Prepare(NpgsqlBatch)"/>, with the switch given instead of <see cref="Enabled"/>, and the slots.</summary>
    public static void Prepare(NpgsqlBatch batch, bool enabled, PrepareSlots? slots = null)
    {
        if (!enabled || batch.Connection is not { State: ConnectionState.Open } connection) return;
        var statements = default(StatementSet);
        var admitted = true;
        // Every statement's use is counted, also after one that is not admitted yet.
        foreach (var command in batch.BatchCommands)
            if (Admit(command.CommandText) is >= 0 and var number) statements = statements.With(number);
            else admitted = false;
        if (admitted) Prepare(connection, statements, batch.Prepare, slots ?? Slots);
    }

    /// <summary>Before Marten runs a command on an open connection (it opens one itself after this for most reads).</summary>
    public static void Prepare(NpgsqlCommand command) => Prepare(command, Enabled);

    /// <summary>As <see cref="Prepare(NpgsqlCommand)"/>, with the switch given instead of <see cref="Enabled"/>, and the slots.</summary>
    public static void Prepare(NpgsqlCommand command, bool enabled, PrepareSlots? slots = null)
    {
        if (enabled && command.Connection is { State: ConnectionState.Open } connection && Admit(command.CommandText) is >= 0 and var number)
            Prepare(connection, default(StatementSet).With(number), command.Prepare, slots ?? Slots);
    }

    /// <summary>
    /// What this class prepared on each physical connection. Npgsql sends nothing for a use whose statements are all
    /// prepared on its connection, so such a use needs no slot. Taking one anyway left whole batches of the offers'
    /// writes unprepared at the bench's maximum rate (10-35 % of them planned): on two busy cores a thread holding a slot
    /// for that instant is often descheduled (bench/README.md, "Statements that ran unprepared, and where PostgreSQL's
    /// CPU goes").
    /// <para>The key is the dictionary of server parameters Npgsql keeps for each physical connection, which
    /// <see cref="NpgsqlConnection.PostgresParameters"/> hands out: made with the connection and dropped with it, so an
    /// entry never outlives its connection (nor a server restart, which reuses process ids) and needs no clearing. Should
    /// Npgsql ever hand out a copy, no use is found prepared and every one takes a slot, as before.</para>
    /// </summary>
    private static ConditionalWeakTable<object, PreparedOn> _prepared = new();

    private static void Prepare(NpgsqlConnection connection, StatementSet statements, Action prepare, PrepareSlots slots)
    {
        var prepared = _prepared.GetValue(connection.PostgresParameters, _ => new PreparedOn());
        if (prepared.Contains(statements))
        {
            // Blocks only where Npgsql's own state says otherwise: a statement it invalidated after a 0A000 that Marten's
            // failure hook did not see (Failed), or a failing prepare whose Forget sends DEALLOCATE ALL. Both rare.
            Guarded(connection, prepare);
            return;
        }
        Bounded(slots, connection, () =>
        {
            prepare();
            prepared.Add(statements);
        });
    }

    /// <summary>
    /// After PostgreSQL refused to run a prepared statement because its table changed under it (0A000, "cached plan must
    /// not change result type": a migration while this process runs), Npgsql prepares it again on its next use, a round
    /// trip. So nothing is taken as prepared any more, and those prepares go through the slots.
    /// </summary>
    public static void Failed(Exception exception)
    {
        // 0A000 is any "feature not supported"; the function that raises this one tells it apart.
        for (var inner = exception; inner is not null; inner = inner.InnerException)
            if (inner is PostgresException { SqlState: PostgresErrorCodes.FeatureNotSupported, Routine: "RevalidateCachedQuery" })
            {
                Volatile.Write(ref _prepared, new ConditionalWeakTable<object, PreparedOn>());
                return;
            }
    }

    /// <summary>Our own statements, on a connection opened for them.</summary>
    public static async Task PrepareAsync(NpgsqlCommand command, CancellationToken cancellation)
    {
        if (!Enabled || command.Connection is not { State: ConnectionState.Open } connection || Admit(command.CommandText) < 0) return;
        try
        {
            await command.PrepareAsync(cancellation);
        }
        catch (Exception e) when (e is not PostgresException && !cancellation.IsCancellationRequested)
        {
            Forget(connection);
        }
    }

    /// <summary>Never waits for a slot: without one the statement runs unprepared this once.</summary>
    private static void Bounded(PrepareSlots slots, NpgsqlConnection connection, Action prepare)
    {
        if (!slots.TryTake()) return;
        try
        {
            Guarded(connection, prepare);
        }
        finally
        {
            slots.Return();
        }
    }

    private static void Guarded(NpgsqlConnection connection, Action prepare)
    {
        try
        {
            prepare();
        }
        // PostgreSQL's refusal stays the caller's error (it aborts a transaction, and Npgsql undoes its bookkeeping then).
        catch (Exception e) when (e is not PostgresException)
        {
            Forget(connection);
        }
    }

    // Npgsql 9.0.4 marks a batch's statements "being prepared" one by one and undoes that only after sending them: a
    // parameter it cannot resolve throws in between and leaves the earlier ones marked on this connection for good, so
    // each later use binds a statement PostgreSQL never parsed (26000), whoever's request it is. DEALLOCATE ALL (allowed
    // in a transaction that has not failed) resets both sides; the statement then runs unprepared and fails, or not, on
    // its own. If even that fails the connection is broken and its own execution will say so.
    private static void Forget(NpgsqlConnection connection)
    {
        try
        {
            if (connection.State != ConnectionState.Open) return;
            _prepared.Remove(connection.PostgresParameters);
            connection.UnprepareAll();
        }
        catch (Exception)
        {
            // The statement's execution reports the connection's state.
        }
    }

    /// <summary>True once per process, after <see cref="MaxStatements"/> refused a statement: for a warning.</summary>
    public static bool TakeCapReached() => Volatile.Read(ref _capReached) == 1 && Interlocked.Exchange(ref _capReached, 2) == 1;

    /// <summary>The statement's number once it is admitted (its <see cref="UsesBeforePreparing"/>th use on), else -1.</summary>
    private static int Admit(string sql)
    {
        // The hot path, lock-free: a statement already admitted, or none can be any more.
        if (Admitted.TryGetValue(sql, out var number)) return number;
        if (sql.Contains(PlannedEachTime, StringComparison.Ordinal)) return -1;
        if (Volatile.Read(ref _admitted) >= MaxStatements)
        {
            Interlocked.CompareExchange(ref _capReached, 1, 0);
            return -1;
        }
        lock (Gate)
        {
            if (Admitted.TryGetValue(sql, out number)) return number;
            if (_admitted >= MaxStatements) return -1;
            if (!Candidates.TryGetValue(sql, out var uses) && Candidates.Count >= MaxCandidates) Candidates.Clear();
            if (++uses < UsesBeforePreparing)
            {
                Candidates[sql] = uses;
                return -1;
            }
            Candidates.Remove(sql);
            number = _admitted;
            Admitted[sql] = number;
            Volatile.Write(ref _admitted, number + 1);
            return number;
        }
    }
}

/// <summary>A bound on the threads in a synchronous prepare that never makes a caller wait (<see cref="PreparedStatements.Slots"/>).</summary>
public sealed class PrepareSlots(int max)
{
    private int _taken;

    public int Max => max;

    public bool TryTake()
    {
        if (Interlocked.Increment(ref _taken) <= max) return true;
        Interlocked.Decrement(ref _taken);
        return false;
    }

    public void Return() => Interlocked.Decrement(ref _taken);
}

/// <summary>Admitted statements by number (<see cref="PreparedStatements.MaxStatements"/> = 128 bits).</summary>
internal readonly record struct StatementSet(ulong Low, ulong High)
{
    public StatementSet With(int number) =>
        number < 64 ? this with { Low = Low | 1UL << number } : this with { High = High | 1UL << (number - 64) };
}

/// <summary>The statements prepared on one physical connection; its uses may run on several threads in turn.</summary>
internal sealed class PreparedOn
{
    private ulong _low, _high;

    public bool Contains(StatementSet set) =>
        (Volatile.Read(ref _low) & set.Low) == set.Low && (Volatile.Read(ref _high) & set.High) == set.High;

    public void Add(StatementSet set)
    {
        Interlocked.Or(ref _low, set.Low);
        Interlocked.Or(ref _high, set.High);
    }
}
