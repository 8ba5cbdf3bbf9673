using System.Text.Json.Nodes;
using Npgsql;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// How PostgreSQL plans a query on the test database with sequential scans priced out (enable_seqscan = off): it then
/// still plans one only where no index can answer the query, whatever the table holds at the time.
/// </summary>
public static class QueryPlans
{
    /// <summary>Every scan of <paramref name="table"/> in the plan: its node type and, for an index scan, the index.</summary>
    public static async Task<List<(string NodeType, string? Index)>> ScansAsync(string sql, string table, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var off = new NpgsqlCommand("SET LOCAL enable_seqscan = off", connection, transaction)) await off.ExecuteNonQueryAsync();
        await using var explain = new NpgsqlCommand($"EXPLAIN (FORMAT JSON) {sql}", connection, transaction);
        foreach (var value in parameters) explain.Parameters.Add(new NpgsqlParameter { Value = value });
        var plan = (string)(await explain.ExecuteScalarAsync())!;
        return JsonNode.Parse(plan)!.AsArray().SelectMany(p => Nodes(p!["Plan"]!))
            .Where(n => (string?)n["Relation Name"] == table || n["Index Name"] is not null && Under(n, table))
            .Select(n => ((string)n["Node Type"]!, (string?)n["Index Name"])).ToList();
    }

    // A bitmap index scan names its index but not its table; the bitmap heap scan above it names the table.
    private static bool Under(JsonNode node, string table)
    {
        for (var parent = node.Parent; parent is not null; parent = parent.Parent)
            if (parent is JsonObject o && o["Relation Name"] is { } name) return (string?)name == table;
        return false;
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode node) => [node, .. (node["Plans"]?.AsArray() ?? []).SelectMany(child => Nodes(child!))];
}
