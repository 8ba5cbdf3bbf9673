using System.Text.Json;
using Npgsql;
using NotificationService.Contracts;
using NotificationService.Testing;
using Wolverine;
using Wolverine.Runtime.Serialization;

namespace NotificationService.Core.Tests.Operations;

/// <summary>
/// Dead-letter rows written as a worker's poison path writes them (Wolverine's envelope with the DeliverJob JSON inside,
/// in the workers' table), for tests that need many of them or ones of jobs that no longer exist.
/// </summary>
public static class DeadLetterRows
{
    public const string WorkersTable = "wolverine_adapters.wolverine_dead_letters";

    public static byte[] Body(Guid id, DeliverJob message) => EnvelopeSerializer.Serialize(new Envelope
    {
        Id = id, MessageType = typeof(DeliverJob).FullName, ContentType = "application/json", SentAt = DateTimeOffset.UtcNow,
        Data = JsonSerializer.SerializeToUtf8Bytes(message, new JsonSerializerOptions(JsonSerializerDefaults.Web)),
    });

    /// <summary>One row per job, received on <paramref name="queue"/>'s address, sent at the times given; returns the rows' ids.</summary>
    public static async Task<Guid[]> InsertAsync(string queue, IReadOnlyList<(Guid JobId, DateTimeOffset SentAt)> jobs, string exceptionMessage)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        var ids = new Guid[jobs.Count];
        await using var batch = new NpgsqlBatch(connection);
        for (var i = 0; i < jobs.Count; i++)
        {
            ids[i] = Guid.NewGuid();
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
                INSERT INTO {WorkersTable} (id, body, message_type, received_at, exception_type, exception_message, sent_at, replayable)
                VALUES ($1, $2, $3, $4, 'NotificationService.Tests.InjectedPoison', $5, $6, false)
                """)
            {
                Parameters =
                {
                    new() { Value = ids[i] }, new() { Value = Body(ids[i], new DeliverJob(jobs[i].JobId, Guid.Empty)) },
                    new() { Value = typeof(DeliverJob).FullName }, new() { Value = Topology.QueueUri(queue).ToString() },
                    new() { Value = exceptionMessage }, new() { Value = jobs[i].SentAt.ToUniversalTime() },
                },
            });
        }
        await batch.ExecuteNonQueryAsync();
        return ids;
    }

    public static Task<long> CountAsync(IEnumerable<Guid> ids) =>
        Sql.ScalarAsync<long>($"SELECT count(*) FROM {WorkersTable} WHERE id IN ({string.Join(",", ids.Select(id => $"'{id}'"))})");
}
