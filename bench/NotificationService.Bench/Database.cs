using Npgsql;

namespace NotificationService.Bench;

public static class Database
{
    /// <summary>Every run starts from an empty notification store in its own database.</summary>
    public static async Task ResetAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand("DROP SCHEMA IF EXISTS ns, wolverine, wolverine_adapters CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
    }

    /// <summary>Transactions committed in this database so far (read-only ones and every process's background work included).</summary>
    public static async Task<long> CommitsAsync(string postgres) => (await CountersAsync(postgres)).Commits;

    /// <summary>
    /// This database's commits and blocks read from outside shared buffers, and the WAL the whole cluster wrote (bytes, and
    /// full-page images: the first change to a page after a checkpoint logs the whole page, so keys that land on random
    /// pages of a large index cost a page each).
    /// </summary>
    public static async Task<Counters> CountersAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT d.xact_commit, d.blks_read, w.wal_bytes::bigint, w.wal_fpi
            FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new Counters(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    public sealed record Counters(long Commits, long BlocksRead, long WalBytes, long WalFullPageImages)
    {
        public static Counters operator -(Counters a, Counters b) =>
            new(a.Commits - b.Commits, a.BlocksRead - b.BlocksRead, a.WalBytes - b.WalBytes, a.WalFullPageImages - b.WalFullPageImages);
    }
}
