using Marten;
using Npgsql;
using NotificationService.Core.Offers;
using NotificationService.Core.Tests.Storage;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// A deployment upgraded from a version that kept the offer's service and creation time only in its JSON, indexed by
/// expressions (the time through mt_immutable_timestamptz): the core's migration at start adds the columns, fills them
/// from every stored offer and indexes them, so the offers stored before are listed, newest first, as before. In a schema
/// of the test's own (the same configuration, another schema name), so the store the other tests share is left alone.
/// </summary>
public sealed class when_offers_from_before_the_service_and_time_columns_are_upgraded : IAsyncLifetime
{
    private readonly ScratchSchema _schema = new("offers", opts => opts.AddOfferStorage());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _schema.DisposeAsync();

    [Fact]
    public async Task the_offers_stored_before_get_the_columns_and_are_listed_newest_first_from_their_index()
    {
        var before = _schema.Store();
        await before.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // The table as the previous version left it: no service or time column, both indexed as expressions over the JSON
        // (and no offer_metadata, which came later and reads the columns).
        await _schema.ExecuteAsync(when_offers_from_before_the_metadata_index_are_upgraded.WithoutTheIndex(_schema.Name));
        await _schema.ExecuteAsync($"""
            ALTER TABLE {_schema.Name}.mt_doc_offer DROP COLUMN service_id, DROP COLUMN created_at;
            CREATE INDEX mt_doc_offer_idx_service_id ON {_schema.Name}.mt_doc_offer (((data ->> 'serviceId')::uuid));
            CREATE INDEX mt_doc_offer_idx_created_at ON {_schema.Name}.mt_doc_offer ({_schema.Name}.mt_immutable_timestamptz(data ->> 'createdAt'));
            """);
        var (service, other) = (Guid.NewGuid(), Guid.NewGuid());
        // Whole microseconds, which PostgreSQL keeps exactly.
        var created = new DateTimeOffset(2026, 11, 3, 9, 15, 42, TimeSpan.Zero).AddTicks(1_234_560);
        var offers = new[]
        {
            new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created },
            new Offer { Id = Guid.NewGuid(), ServiceId = service, CreatedAt = created.AddMinutes(5) },
            new Offer { Id = Guid.NewGuid(), ServiceId = other, CreatedAt = created.AddMinutes(1) },
        };
        foreach (var offer in offers)
            await _schema.ExecuteAsync($"INSERT INTO {_schema.Name}.mt_doc_offer (id, data, mt_dotnet_type, mt_version) VALUES ($1, $2::jsonb, $3, gen_random_uuid())",
                offer.Id, before.Options.Serializer().ToJson(offer), typeof(Offer).FullName!);

        var upgraded = _schema.Store();
        await upgraded.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // Migrated once: a start after it finds nothing to change (no index rebuilt on every start).
        await _schema.Store().Storage.Database.AssertDatabaseMatchesConfigurationAsync();

        await using (var connection = new NpgsqlConnection(ScratchTable.Postgres))
        {
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand($"SELECT id, service_id, created_at FROM {_schema.Name}.mt_doc_offer", connection);
            await using var reader = await read.ExecuteReaderAsync();
            var rows = new Dictionary<Guid, (Guid, DateTimeOffset)>();
            while (await reader.ReadAsync()) rows[reader.GetGuid(0)] = (reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2));
            Assert.All(offers, o => Assert.Equal((o.ServiceId, o.CreatedAt), rows[o.Id]));
        }

        // The listing's query (Marten's LINQ on those members reads the columns) finds the offers stored before the upgrade.
        await using (var session = upgraded.QuerySession())
            Assert.Equal([offers[1].Id, offers[0].Id],
                await session.Query<Offer>().Where(o => o.ServiceId == service).OrderByDescending(o => o.CreatedAt).Select(o => o.Id).ToListAsync());

        // No index of the offer table calls a function per write any more; the listing's index is on the columns.
        var indexes = await _schema.IndexDefinitionsAsync("mt_doc_offer");
        Assert.DoesNotContain(indexes, d => d.Contains("mt_immutable_timestamptz"));
        Assert.Contains(indexes, d => d.Contains("mt_doc_offer_idx_service_created") && d.EndsWith("(service_id, created_at, id)"));
        Assert.DoesNotContain(indexes, d => d.Contains("mt_doc_offer_idx_created_at") || d.Contains("mt_doc_offer_idx_service_id"));
    }

    [Fact]
    public async Task an_offer_written_through_marten_fills_the_columns_in_utc()
    {
        var store = _schema.Store();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // Given with an offset: Npgsql writes a timestamptz only from UTC, so the property converts it.
        var offer = new Offer { Id = Guid.NewGuid(), ServiceId = Guid.NewGuid(), CreatedAt = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.FromHours(3)) };
        Assert.Equal(TimeSpan.Zero, offer.CreatedAt.Offset);
        await using (var session = store.LightweightSession())
        {
            session.Store(offer);
            await session.SaveChangesAsync();
        }

        await using var query = store.QuerySession();
        Assert.Equal([offer.Id], await query.Query<Offer>()
            .Where(o => o.ServiceId == offer.ServiceId && o.CreatedAt == new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero)).Select(o => o.Id).ToListAsync());
    }
}
