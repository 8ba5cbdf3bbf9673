using Npgsql;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// A table in a schema of a test class's own, created before its tests and dropped after them: the tests run as ns_core,
/// which may not create in public, and the service's schema may not exist yet when such a class runs first. Its new name
/// also makes every statement on it new to PreparedStatements' process-wide counts.
/// </summary>
public sealed class ScratchTable(string prefix, string columns)
{
    public static readonly string Postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
                                             ?? "Host=127.0.0.1;Port=27432;Database=postgres;Username=postgres";

    private readonly string _schema = $"{prefix}_{Guid.NewGuid():N}";

    public string Name => $"{_schema}.rows";

    public Task CreateAsync() => RunAsync($"CREATE SCHEMA {_schema}; CREATE TABLE {Name} ({columns})");

    public Task DropAsync() => RunAsync($"DROP SCHEMA IF EXISTS {_schema} CASCADE");

    /// <summary>
    /// Runs DDL, again when PostgreSQL picks it as a deadlock's victim: other test classes create, alter and drop
    /// schemas, tables and triggers at the same time, and PostgreSQL rolls the victim's statement back whole, so running
    /// it again is safe (CI once failed here: 40P01 in this class's set-up or clean-up, beside other classes' DDL).
    /// </summary>
    internal static async Task RunAsync(string sql, params object[] values)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = new NpgsqlConnection(Postgres);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand(sql, connection);
                foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
                await command.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5) { }
        }
    }
}
