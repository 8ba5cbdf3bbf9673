using System.Text.RegularExpressions;
using Marten;
using Npgsql;
using NotificationService.Storage.Adapters;

namespace NotificationService.Storage;

/// <summary>
/// What an adapter worker's PostgreSQL role may do (db/roles.sql creates the roles). The core owns the schemas and runs
/// the migrations; after each one it applies <see cref="GrantsSql"/>, so the grants always cover the tables as they are.
/// A worker reads its adapter only through <c>ns.adapter_for_key</c>: the adapters table holds every adapter's
/// encrypted config, and with the key ring a worker must read, that would be every adapter's secrets.
/// </summary>
public static partial class WorkerRole
{
    public const string DefaultName = "ns_worker";

    /// <summary>The workers' Wolverine envelope storage; the worker role owns it, and Wolverine migrates it when a worker starts.</summary>
    public const string EnvelopeSchema = "wolverine_adapters";

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    public static partial Regex ValidName();

    /// <summary>Idempotent; runs as the owner of schema <c>ns</c>, after Marten's migration, under a lock so that cores starting together do not collide.</summary>
    public static string GrantsSql(string role) => $$"""
        SELECT pg_advisory_xact_lock(4711001);
        DO $do$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = '{{EnvelopeSchema}}') THEN
            CREATE SCHEMA {{EnvelopeSchema}} AUTHORIZATION {{role}};
          END IF;
        END $do$;
        -- Exactly these grants: whatever an earlier version granted is taken back first.
        REVOKE ALL ON ALL TABLES IN SCHEMA {{NotificationStore.Schema}} FROM {{role}};
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA {{NotificationStore.Schema}} FROM {{role}};
        GRANT USAGE ON SCHEMA {{NotificationStore.Schema}} TO {{role}};
        -- Appending job events locks and updates the stream row (its version), inserts the events and upserts the inline
        -- Job projection; the send-rate slots are one upserted row per adapter.
        GRANT SELECT, INSERT, UPDATE ON {{NotificationStore.Schema}}.mt_streams, {{NotificationStore.Schema}}.mt_doc_job,
          {{NotificationStore.SendSlotsTable}} TO {{role}};
        GRANT SELECT, INSERT ON {{NotificationStore.Schema}}.mt_events TO {{role}};
        GRANT USAGE ON SEQUENCE {{NotificationStore.Schema}}.mt_events_sequence TO {{role}};
        -- The event table also holds the adapters' and services' streams (encrypted adapter configs, key hashes): the worker
        -- role sees and writes job events only (and the tombstones Marten writes after a failed append, which carry no
        -- data), and job stream rows (and the tombstone stream's, which has no type). The owner, the core, is not subject
        -- to these policies. Created once: the tables are locked for it, in the order every append locks them (streams,
        -- then events), so a core starting under load waits for the appends in flight instead of deadlocking with them.
        -- A changed policy gets a new name.
        DO $do$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_policies WHERE schemaname = '{{NotificationStore.Schema}}' AND tablename = 'mt_events'
                         AND policyname = 'worker_job_events_v2' AND '{{role}}' = ANY (roles)) THEN
            LOCK TABLE {{NotificationStore.Schema}}.mt_streams, {{NotificationStore.Schema}}.mt_events IN ACCESS EXCLUSIVE MODE;
            DROP POLICY IF EXISTS worker_job_streams_v1 ON {{NotificationStore.Schema}}.mt_streams;
            DROP POLICY IF EXISTS worker_job_events_v1 ON {{NotificationStore.Schema}}.mt_events;
            DROP POLICY IF EXISTS worker_job_events_v2 ON {{NotificationStore.Schema}}.mt_events;
            ALTER TABLE {{NotificationStore.Schema}}.mt_streams ENABLE ROW LEVEL SECURITY;
            CREATE POLICY worker_job_streams_v1 ON {{NotificationStore.Schema}}.mt_streams TO {{role}}
              USING (type = 'job' OR type IS NULL);
            ALTER TABLE {{NotificationStore.Schema}}.mt_events ENABLE ROW LEVEL SECURITY;
            CREATE POLICY worker_job_events_v2 ON {{NotificationStore.Schema}}.mt_events TO {{role}}
              USING (type LIKE 'job\_%' OR type = 'tombstone')
              -- and appended only to a job's stream (or the tombstone stream): a job event put into an adapter's or a
              -- service's stream would take the version the core's next append there needs.
              WITH CHECK ((type LIKE 'job\_%' OR type = 'tombstone') AND EXISTS (SELECT 1 FROM {{NotificationStore.Schema}}.mt_streams s
                WHERE s.id = stream_id AND (s.type = 'job' OR s.type IS NULL)));
          END IF;
        END $do$;
        -- Decrypting its own config; creating keys is the core's (workers run with automatic key generation off).
        GRANT SELECT ON {{NotificationStore.Schema}}.mt_doc_dataprotectionkey TO {{role}};
        -- SECURITY DEFINER: runs with the owner's right to read the adapters table, and answers only for the one key hash
        -- given; a worker knows its own key, and the hash of a key it does not know cannot be read anywhere it may read.
        CREATE OR REPLACE FUNCTION {{NotificationStore.Schema}}.adapter_for_key(key_hash text) RETURNS TABLE (data jsonb)
          LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
          AS $fn$ SELECT d.data FROM {{NotificationStore.Schema}}.mt_doc_adapter d WHERE d.data ->> 'keyHash' = key_hash $fn$;
        REVOKE ALL ON FUNCTION {{NotificationStore.Schema}}.adapter_for_key(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION {{NotificationStore.Schema}}.adapter_for_key(text) TO {{role}};
        -- Heartbeats: only through the two functions, each for the adapter of the key hash given (WorkerHeartbeats).
        {{WorkerHeartbeats.FunctionsSql(role)}}
        """;

    /// <summary>The adapter whose key has this hash, as its worker may see it; null for an unknown (or deleted) one.</summary>
    public static async Task<Adapter?> AdapterForKeyAsync(NpgsqlDataSource database, ISerializer serializer, string keyHash, CancellationToken ct)
    {
        await using var command = database.CreateCommand($"SELECT data FROM {NotificationStore.Schema}.adapter_for_key($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = keyHash });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return serializer.FromJson<Adapter>(reader, 0);
    }
}
