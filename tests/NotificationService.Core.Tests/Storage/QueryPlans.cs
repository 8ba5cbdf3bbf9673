using System.Text.Json.Nodes;
using Npgsql;
using NotificationService.Storage;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// How PostgreSQL plans a query on the test database with sequential scans priced out (enable_seqscan = off): it then
/// still plans one only where no index can answer the query, whatever the table holds at the time. On a connection as
/// the service opens them (its random_page_cost).
/// </summary>
public static class QueryPlans
{
    /// <summary>Every scan of <paramref name="table"/> in the plan: its node type and, for an index scan, the index and its condition.</summary>
    public static async Task<List<(string NodeType, string? Index, string? IndexCond)>> ScansAsync(string sql, string table, params object[] parameters) =>
        (await ExplainAsync("FORMAT JSON", sql, parameters))
            .Where(n => (string?)n["Relation Name"] == table || (string?)n["Node Type"] == "Bitmap Index Scan" && BitmapOf(n) == table)
            .Select(n => ((string)n["Node Type"]!, (string?)n["Index Name"], (string?)n["Index Cond"])).ToList();

    /// <summary>Every node of the plan as it ran (EXPLAIN ANALYZE, BUFFERS): its rows and the pages it read.</summary>
    public static Task<List<JsonNode>> ExecutedAsync(string sql, params object[] parameters) =>
        ExplainAsync("ANALYZE, BUFFERS, FORMAT JSON", sql, parameters);

    private static async Task<List<JsonNode>> ExplainAsync(string options, string sql, object[] parameters)
    {
        await using var connection = new NpgsqlConnection(NotificationStore.PooledConnectionString(TestEnvironment.Postgres));
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var off = new NpgsqlCommand("SET LOCAL enable_seqscan = off", connection, transaction)) await off.ExecuteNonQueryAsync();
        await using var explain = new NpgsqlCommand($"EXPLAIN ({options}) {sql}", connection, transaction);
        foreach (var value in parameters) explain.Parameters.Add(new NpgsqlParameter { Value = value });
        return Nodes((string)(await explain.ExecuteScalarAsync())!);
    }

    /// <summary>Every node of an EXPLAIN (FORMAT JSON) result, subplans included.</summary>
    public static List<JsonNode> Nodes(string explained) => JsonNode.Parse(explained)!.AsArray().SelectMany(p => Nodes(p!["Plan"]!)).ToList();

    // A bitmap index scan names its index but not its table: the nearest bitmap heap scan above it (through any
    // BitmapAnd/BitmapOr) names the table.
    private static string? BitmapOf(JsonNode node)
    {
        for (var parent = node.Parent; parent is not null; parent = parent.Parent)
            if (parent is JsonObject o && (string?)o["Node Type"] == "Bitmap Heap Scan") return (string?)o["Relation Name"];
        return null;
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode node) => [node, .. (node["Plans"]?.AsArray() ?? []).SelectMany(child => Nodes(child!))];
}
