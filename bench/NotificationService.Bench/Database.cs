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
}
