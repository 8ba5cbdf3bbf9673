using System.Collections.Concurrent;
using System.Data;
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

    /// <summary>Statements not yet admitted are counted in a table of this many; when full it is cleared, so a one-off
    /// text cannot hold a place a statement still to become hot needs (it then counts its uses again).</summary>
    public const int MaxCandidates = 4096;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, int> Candidates = new();
    private static readonly ConcurrentDictionary<string, byte> Admitted = new();
    private static int _admitted, _capReached;

    /// <summary>Before Marten runs a batch on its open connection (a session's changes: the per-job writes).</summary>
    public static void Prepare(NpgsqlBatch batch) => Prepare(batch, Enabled);

    /// <summary>As <see cref="Prepare(NpgsqlBatch)"/>, with the switch given instead of <see cref="Enabled"/>, and the slots.</summary>
    public static void Prepare(NpgsqlBatch batch, bool enabled, PrepareSlots? slots = null)
    {
        if (!enabled || batch.Connection is not { State: ConnectionState.Open } connection) return;
        var statements = new string[batch.BatchCommands.Count];
        var admitted = true;
        for (var i = 0; i < statements.Length; i++) admitted &= Admit(statements[i] = batch.BatchCommands[i].CommandText);
        if (admitted) Prepare(connection, statements, batch.Prepare, slots ?? Slots);
    }

    /// <summary>Before Marten runs a command on an open connection (it opens one itself after this for most reads).</summary>
    public static void Prepare(NpgsqlCommand command) => Prepare(command, Enabled);

    /// <summary>As <see cref="Prepare(NpgsqlCommand)"/>, with the switch given instead of <see cref="Enabled"/>, and the slots.</summary>
    public static void Prepare(NpgsqlCommand command, bool enabled, PrepareSlots? slots = null)
    {
        if (enabled && command.Connection is { State: ConnectionState.Open } connection && Admit(command.CommandText))
            Prepare(connection, [command.CommandText], command.Prepare, slots ?? Slots);
    }

    /// <summary>
    /// The statements each backend (by its process id) has prepared through this class. When all of a use's statements
    /// are there, Npgsql finds them prepared on the connection and sends nothing, so the use needs no slot. Taking one
    /// anyway made a third of the offers' writes run unprepared, and so be planned again, at the bench's maximum rate:
    /// on two busy cores a thread holding a slot for that instant is often descheduled, and the slots were then taken
    /// (bench/README.md, "Prepared statements that ran unprepared").
    /// </summary>
    private static readonly ConcurrentDictionary<int, ConcurrentDictionary<string, byte>> PreparedOn = new();

    /// <summary>More backends than a process's pools keep open: the ids of closed connections are dropped by clearing it.</summary>
    private const int MaxBackends = 1024;

    private static void Prepare(NpgsqlConnection connection, string[] statements, Action prepare, PrepareSlots slots)
    {
        var backend = connection.ProcessID;
        if (PreparedOn.TryGetValue(backend, out var known) && statements.All(known.ContainsKey))
        {
            // A backend id reused by a new connection after the old one closed would make this one prepare for real,
            // without a slot: rare (ids are handed out in turn), and it only waits for its own round trip.
            Guarded(connection, prepare);
            return;
        }
        Bounded(slots, connection, () =>
        {
            prepare();
            if (PreparedOn.Count >= MaxBackends) PreparedOn.Clear();
            var prepared = PreparedOn.GetOrAdd(backend, _ => new ConcurrentDictionary<string, byte>());
            foreach (var statement in statements) prepared.TryAdd(statement, 0);
        });
    }

    /// <summary>Our own statements, on a connection opened for them.</summary>
    public static async Task PrepareAsync(NpgsqlCommand command, CancellationToken cancellation)
    {
        if (!Enabled || command.Connection is not { State: ConnectionState.Open } connection || !Admit(command.CommandText)) return;
        try
        {
            await command.PrepareAsync(cancellation);
        }
        catch (Exception e) when (e is not PostgresException && !cancellation.IsCancellationRequested)
        {
            Forget(connection);
        }
    }

    /// <summary>Never waits for a slot: without one the statement runs unprepared this once. A slot is taken for every
    /// admitted use, also when the statement is already prepared on the connection and Npgsql sends nothing (it does not
    /// say beforehand which it will be).</summary>
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
            PreparedOn.TryRemove(connection.ProcessID, out _);
            connection.UnprepareAll();
        }
        catch (Exception)
        {
            // The statement's execution reports the connection's state.
        }
    }

    /// <summary>True once per process, after <see cref="MaxStatements"/> refused a statement: for a warning.</summary>
    public static bool TakeCapReached() => Volatile.Read(ref _capReached) == 1 && Interlocked.Exchange(ref _capReached, 2) == 1;

    private static bool Admit(string sql)
    {
        // The hot path, lock-free: a statement already admitted, or none can be any more.
        if (Admitted.ContainsKey(sql)) return true;
        if (Volatile.Read(ref _admitted) >= MaxStatements)
        {
            Interlocked.CompareExchange(ref _capReached, 1, 0);
            return false;
        }
        lock (Gate)
        {
            if (Admitted.ContainsKey(sql)) return true;
            if (_admitted >= MaxStatements) return false;
            if (!Candidates.TryGetValue(sql, out var uses) && Candidates.Count >= MaxCandidates) Candidates.Clear();
            if (++uses < UsesBeforePreparing)
            {
                Candidates[sql] = uses;
                return false;
            }
            Candidates.Remove(sql);
            Admitted[sql] = 0;
            Volatile.Write(ref _admitted, _admitted + 1);
            return true;
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
