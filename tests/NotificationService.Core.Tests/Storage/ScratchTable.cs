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

    private static async Task RunAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Postgres);
        await connection.OpenAsync();
        await new NpgsqlCommand(sql, connection).ExecuteNonQueryAsync();
    }
}
