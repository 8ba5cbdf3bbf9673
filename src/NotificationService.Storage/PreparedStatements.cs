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

    // Statements not yet admitted and how often each was seen; bounded too, or distinct one-off texts would grow it.
    private const int MaxCandidates = 4096;
    private static readonly ConcurrentDictionary<string, int> Candidates = new();
    private static readonly ConcurrentDictionary<string, byte> Admitted = new();
    private static int _candidates, _admitted;

    /// <summary>Before Marten runs a batch on its open connection (a session's changes: the per-job writes).</summary>
    public static void Prepare(NpgsqlBatch batch) => Prepare(batch, Enabled);

    /// <summary>As <see cref="Prepare(NpgsqlBatch)"/>, with the switch given instead of <see cref="Enabled"/>.</summary>
    public static void Prepare(NpgsqlBatch batch, bool enabled)
    {
        if (!enabled || batch.Connection is not { State: ConnectionState.Open }) return;
        var admitted = true;
        foreach (var command in batch.BatchCommands) admitted &= Admit(command.CommandText);
        if (admitted) Guarded(batch.Connection, batch.Prepare);
    }

    /// <summary>Before Marten runs a command on an open connection (it opens one itself after this for most reads).</summary>
    public static void Prepare(NpgsqlCommand command) => Prepare(command, Enabled);

    /// <summary>As <see cref="Prepare(NpgsqlCommand)"/>, with the switch given instead of <see cref="Enabled"/>.</summary>
    public static void Prepare(NpgsqlCommand command, bool enabled)
    {
        if (enabled && command.Connection is { State: ConnectionState.Open } && Admit(command.CommandText)) Guarded(command.Connection, command.Prepare);
    }

    /// <summary>Our own statements, on a connection opened for them.</summary>
    public static async Task PrepareAsync(NpgsqlCommand command, CancellationToken cancellation)
    {
        if (!Enabled || command.Connection is not { State: ConnectionState.Open } connection || !Admit(command.CommandText)) return;
        try
        {
            await command.PrepareAsync(cancellation);
        }
        catch (Exception) when (!cancellation.IsCancellationRequested)
        {
            Forget(connection);
        }
    }

    private static void Guarded(NpgsqlConnection connection, Action prepare)
    {
        try
        {
            prepare();
        }
        catch (Exception)
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
            if (connection.State == ConnectionState.Open) connection.UnprepareAll();
        }
        catch (Exception)
        {
            // The statement's execution reports the connection's state.
        }
    }

    private static bool Admit(string sql)
    {
        if (Admitted.ContainsKey(sql)) return true;
        // Counted beside the dictionaries: their Count takes every lock, and this runs on every statement not yet admitted.
        if (Volatile.Read(ref _admitted) >= MaxStatements) return false;
        if (Volatile.Read(ref _candidates) >= MaxCandidates && !Candidates.ContainsKey(sql)) return false;
        var uses = Candidates.AddOrUpdate(sql, _ => 1, (_, n) => n + 1);
        if (uses == 1) Interlocked.Increment(ref _candidates);
        if (uses < UsesBeforePreparing) return false;
        if (Candidates.TryRemove(sql, out _)) Interlocked.Decrement(ref _candidates);
        if (Admitted.TryAdd(sql, 0)) Interlocked.Increment(ref _admitted);
        return true;
    }
}
