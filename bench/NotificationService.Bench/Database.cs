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
    public static async Task<long> CommitsAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
