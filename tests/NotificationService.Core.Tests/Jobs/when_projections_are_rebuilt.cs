using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Npgsql;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Jobs;

public sealed class when_projections_are_rebuilt(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task replaying_the_streams_reproduces_every_job_document_exactly()
    {
        // Jobs in several states, each with a different history.
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox");
        var failed = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "f@example.test") } });
        await System.WaitForTerminalAsync(System.Tenant, failed.Jobs[0].Id);
        var finished = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "ok@example.test") } });
        await System.WaitForTerminalAsync(System.Tenant, finished.Jobs[0].Id);
        var canceled = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "c@example.test") }, sendAt = DateTimeOffset.UtcNow.AddHours(1),
        });
        await System.CancelJobAsync(System.Tenant, canceled.Jobs[0].Id);
        await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "s@example.test") }, sendAt = DateTimeOffset.UtcNow.AddHours(1),
        });

        var before = await JobDocumentsAsync();
        Assert.Equal(4, before.Count);
        // Damage every stored document, so only a real replay of the streams can give the originals back.
        await ExecuteAsync("UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{attempts}', '99')");
        Assert.NotEqual(before, await JobDocumentsAsync());

        var rebuilt = await System.SendAsync<System.Text.Json.JsonElement>(HttpMethod.Post, "/admin/projections/rebuild", SystemFixture.AdminKey, expect: 200);
        Assert.Contains("Job", rebuilt.GetProperty("projections").EnumerateArray().Select(p => p.GetString()));

        var after = await JobDocumentsAsync();
        Assert.Equal(before, after);
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Each job document exactly as PostgreSQL stores it (jsonb text), by id.</summary>
    private static async Task<Dictionary<Guid, string>> JobDocumentsAsync()
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, data::text FROM ns.mt_doc_job", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var documents = new Dictionary<Guid, string>();
        while (await reader.ReadAsync()) documents[reader.GetGuid(0)] = reader.GetString(1);
        return documents;
    }
}
