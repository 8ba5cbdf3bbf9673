using Npgsql;
using Weasel.Postgresql.Tables;

namespace NotificationService.Storage;

/// <summary>
/// The workers' heartbeats: one row per running worker node, keyed by (adapter, node), written every few seconds by the
/// worker and read by the core's admin API and health check. A worker's role may not touch the table itself, only call
/// <c>ns.worker_heartbeat</c> and <c>ns.worker_gone</c> with the hash of its adapter key: the adapter is found by that
/// hash (as <c>ns.adapter_for_key</c> finds it), so a worker can write or remove rows of its own adapter only, however it
/// names its node. Times are the database's clock (<c>now()</c>), the one clock every core and worker agree on.
/// </summary>
public static class WorkerHeartbeats
{
    public const string Table = NotificationStore.Schema + ".worker_heartbeats";

    /// <summary>A Weasel table in Marten's extended schema objects, so the core's migration creates it (see UseNotificationStore).</summary>
    public static Table Definition()
    {
        var table = new Table(Table);
        table.AddColumn<Guid>("adapter_id").AsPrimaryKey();
        table.AddColumn("node", "text").AsPrimaryKey();
        table.AddColumn("host", "text").NotNull();
        table.AddColumn("version", "text").NotNull();
        table.AddColumn("parallelism", "integer").NotNull();
        table.AddColumn("in_flight", "integer").NotNull();
        table.AddColumn("started_at", "timestamptz").NotNull();
        table.AddColumn("last_seen", "timestamptz").NotNull();
        return table;
    }

    /// <summary>Part of <see cref="WorkerRole.GrantsSql"/>: the two functions, owned by the core, and the right to call them.</summary>
    public static string FunctionsSql(string role) => $$"""
        -- SECURITY DEFINER, like adapter_for_key: the row's adapter is the one whose key hash the caller gives, never a
        -- column the caller sets. Text is cut to 200 characters: a worker reports its node, host and version, not a file.
        CREATE OR REPLACE FUNCTION {{NotificationStore.Schema}}.worker_heartbeat(key_hash text, node text, host text, version text,
            parallelism integer, in_flight integer) RETURNS boolean
          LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
          AS $fn$
            INSERT INTO {{Table}} AS h (adapter_id, node, host, version, parallelism, in_flight, started_at, last_seen)
            SELECT d.id, left($2, 200), left($3, 200), left($4, 200), $5, $6, now(), now()
            FROM {{NotificationStore.Schema}}.mt_doc_adapter d WHERE d.data ->> 'keyHash' = $1
            ON CONFLICT (adapter_id, node) DO UPDATE
              SET host = excluded.host, version = excluded.version, parallelism = excluded.parallelism,
                  in_flight = excluded.in_flight, last_seen = excluded.last_seen
            RETURNING true
          $fn$;
        CREATE OR REPLACE FUNCTION {{NotificationStore.Schema}}.worker_gone(key_hash text, node text) RETURNS boolean
          LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
          AS $fn$
            DELETE FROM {{Table}} h USING {{NotificationStore.Schema}}.mt_doc_adapter d
            WHERE d.data ->> 'keyHash' = $1 AND h.adapter_id = d.id AND h.node = $2
            RETURNING true
          $fn$;
        REVOKE ALL ON FUNCTION {{NotificationStore.Schema}}.worker_heartbeat(text, text, text, text, integer, integer) FROM PUBLIC;
        REVOKE ALL ON FUNCTION {{NotificationStore.Schema}}.worker_gone(text, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION {{NotificationStore.Schema}}.worker_heartbeat(text, text, text, text, integer, integer) TO {{role}};
        GRANT EXECUTE ON FUNCTION {{NotificationStore.Schema}}.worker_gone(text, text) TO {{role}};
        """;

    /// <summary>One worker node's heartbeat; false when no adapter has this key hash (deleted since the worker started).</summary>
    public static async Task<bool> BeatAsync(NpgsqlDataSource database, string keyHash, string node, string host, string version,
        int parallelism, int inFlight, CancellationToken ct)
    {
        await using var command = database.CreateCommand($"SELECT {NotificationStore.Schema}.worker_heartbeat($1, $2, $3, $4, $5, $6)");
        command.Parameters.Add(new NpgsqlParameter { Value = keyHash });
        command.Parameters.Add(new NpgsqlParameter { Value = node });
        command.Parameters.Add(new NpgsqlParameter { Value = host });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        command.Parameters.Add(new NpgsqlParameter { Value = parallelism });
        command.Parameters.Add(new NpgsqlParameter { Value = inFlight });
        return await command.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>A worker stopping cleanly removes its row, so it is gone at once rather than after the liveness bound.</summary>
    public static async Task GoneAsync(NpgsqlDataSource database, string keyHash, string node, CancellationToken ct)
    {
        await using var command = database.CreateCommand($"SELECT {NotificationStore.Schema}.worker_gone($1, $2)");
        command.Parameters.Add(new NpgsqlParameter { Value = keyHash });
        command.Parameters.Add(new NpgsqlParameter { Value = node });
        await command.ExecuteScalarAsync(ct);
    }
}
