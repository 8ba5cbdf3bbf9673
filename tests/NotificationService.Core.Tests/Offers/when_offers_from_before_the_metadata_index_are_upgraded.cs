using Marten;
using Npgsql;
using NotificationService.Core.Offers;
using NotificationService.Core.Tests.Storage;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// offer_metadata (<see cref="OfferMetadataIndex"/>) on a deployment whose offers were stored before it existed: the core's
/// migration creates the trigger and fills the rows from every stored offer, once. In a schema of the test's own.
/// </summary>
public sealed class when_offers_from_before_the_metadata_index_are_upgraded : IAsyncLifetime
{
    private readonly ScratchSchema _schema = new("pairs", opts => opts.AddOfferStorage());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _schema.DisposeAsync();

    [Fact]
    public async Task the_offers_stored_before_get_their_pairs_once_and_later_writes_keep_them()
    {
        var before = _schema.Store();
        await before.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await _schema.ExecuteAsync(WithoutTheIndex(_schema.Name));
        var service = Guid.NewGuid();
        var created = new DateTimeOffset(2026, 11, 3, 9, 15, 42, TimeSpan.Zero);
        var twoPairs = new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created, Metadata = new() { ["customer"] = "acme", ["region"] = "eu" } };
        var onePair = new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created.AddMinutes(1), Metadata = new() { ["customer"] = "acme" } };
        var none = new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created.AddMinutes(2) };
        await using (var session = before.LightweightSession())
        {
            session.Store(twoPairs, onePair, none);
            await session.SaveChangesAsync();
        }

        var upgraded = _schema.Store();
        await upgraded.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // Migrated once: a start after it finds the table, functions and triggers as configured (no refill on every start).
        await _schema.Store().Storage.Database.AssertDatabaseMatchesConfigurationAsync();

        Assert.Equal([onePair.Id, twoPairs.Id], await MatchesAsync(service, "customer", "acme"));
        Assert.Equal([twoPairs.Id], await MatchesAsync(service, "region", "eu"));
        Assert.Empty(await MatchesAsync(service, "customer", "ACME"));
        Assert.Empty(await MatchesAsync(Guid.NewGuid(), "customer", "acme"));

        // Writes through Marten after the upgrade: an insert, a change of metadata (the old pair goes), a deletion.
        await using (var session = upgraded.LightweightSession())
        {
            var later = new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created.AddMinutes(3), Metadata = new() { ["customer"] = "acme" } };
            var changed = (await session.LoadAsync<Offer>(twoPairs.Id))!; // loaded: the offer's version is checked on write
            changed.Metadata = new() { ["customer"] = "initech", ["region"] = "eu" };
            session.Store(later, changed);
            session.Delete<Offer>(onePair.Id);
            await session.SaveChangesAsync();
            Assert.Equal([later.Id], await MatchesAsync(service, "customer", "acme"));
        }
        Assert.Equal([twoPairs.Id], await MatchesAsync(service, "customer", "initech"));
        Assert.Equal([twoPairs.Id], await MatchesAsync(service, "region", "eu"));

        // A release that changes a function: Weasel replaces it with DROP FUNCTION ... CASCADE, which drops the triggers
        // calling it; the triggers' version (another one here, as a previous release would have left it) makes the same
        // migration create them again and rebuild the rows (emptied here, to see the rebuild).
        await _schema.ExecuteAsync($"""
            CREATE OR REPLACE FUNCTION {_schema.Name}.offer_metadata_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
            COMMENT ON TRIGGER offer_metadata_on_insert ON {_schema.Name}.mt_doc_offer IS 'offer_metadata of a previous release';
            DELETE FROM {_schema.Name}.offer_metadata;
            """);
        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await _schema.Store().Storage.Database.AssertDatabaseMatchesConfigurationAsync();
        Assert.Equal([twoPairs.Id], await MatchesAsync(service, "region", "eu"));
        await using (var session = upgraded.LightweightSession())
        {
            session.Store(new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created.AddMinutes(4), Metadata = new() { ["region"] = "us" } });
            await session.SaveChangesAsync();
        }
        Assert.Single(await MatchesAsync(service, "region", "us")); // the trigger is back

        // Marten's document cleaner truncates the offers, which fires no row trigger.
        await _schema.ExecuteAsync($"TRUNCATE {_schema.Name}.mt_doc_offer");
        Assert.Empty(await MatchesAsync(service, "region", "eu"));
    }

    /// <summary>The schema as the releases before offer_metadata left it: no table, no triggers, no functions.</summary>
    public static string WithoutTheIndex(string schema) => $"""
        DROP TABLE {schema}.offer_metadata;
        DROP TRIGGER offer_metadata_on_insert ON {schema}.mt_doc_offer;
        DROP TRIGGER offer_metadata_on_change ON {schema}.mt_doc_offer;
        DROP TRIGGER offer_metadata_truncate ON {schema}.mt_doc_offer;
        DROP FUNCTION {schema}.offer_metadata_sync(), {schema}.offer_metadata_truncate(), {schema}.offer_metadata_pair(text, text);
        """;

    /// <summary>The offers of the service holding the pair, newest first, as offer_metadata has them.</summary>
    private async Task<List<Guid>> MatchesAsync(Guid service, string key, string value)
    {
        await using var connection = new NpgsqlConnection(ScratchTable.Postgres);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            $"SELECT offer_id FROM {_schema.Name}.offer_metadata WHERE service_id = $1 AND pair = {_schema.Name}.offer_metadata_pair($2, $3) ORDER BY created_at DESC",
            connection);
        foreach (var parameter in new object[] { service, key, value }) read.Parameters.Add(new NpgsqlParameter { Value = parameter });
        await using var reader = await read.ExecuteReaderAsync();
        var ids = new List<Guid>();
        while (await reader.ReadAsync()) ids.Add(reader.GetGuid(0));
        return ids;
    }
}
