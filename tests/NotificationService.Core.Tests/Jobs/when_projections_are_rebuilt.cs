using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Npgsql;
using SmtpServer.Protocol;

namespace NotificationService.Core.Tests.Jobs;

public sealed class when_projections_are_rebuilt(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task replaying_the_streams_reproduces_every_projected_document_exactly()
    {
        // Jobs in several states, each with a different history.
        System.Smtp.ReplyNextWith(SmtpReplyCode.MailboxUnavailable, "no such mailbox", to: "f@example.test");
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

        var before = await DocumentsAsync();
        Assert.Equal(4, before.Keys.Count(k => k.Table == "mt_doc_job"));
        // Damage every stored document, so only a real replay of the streams can give the originals back.
        await Sql.ExecuteAsync("""
            UPDATE ns.mt_doc_job SET data = jsonb_set(data, '{attempts}', '99');
            UPDATE ns.mt_doc_adapter SET data = jsonb_set(data, '{status}', '"Blocked"');
            UPDATE ns.mt_doc_serviceaccount SET data = jsonb_set(data, '{name}', to_jsonb('damaged ' || id)); -- names are unique
            """);
        Assert.NotEqual(before, await DocumentsAsync());

        var rebuilt = await System.SendAsync<System.Text.Json.JsonElement>(HttpMethod.Post, "/admin/projections/rebuild", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(["Job", "Adapter", "ServiceAccount"], rebuilt.GetProperty("projections").EnumerateArray().Select(p => p.GetString()));

        Assert.Equal(before, await DocumentsAsync());
    }


    /// <summary>Every projected document exactly as PostgreSQL stores it (jsonb text), by table and id.</summary>
    private static async Task<Dictionary<(string Table, Guid Id), string>> DocumentsAsync()
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        var documents = new Dictionary<(string, Guid), string>();
        foreach (var table in new[] { "mt_doc_job", "mt_doc_adapter", "mt_doc_serviceaccount" })
        {
            await using var command = new NpgsqlCommand($"SELECT id, data::text FROM ns.{table}", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) documents[(table, reader.GetGuid(0))] = reader.GetString(1);
        }
        return documents;
    }
}
