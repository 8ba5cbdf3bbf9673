using System.Text.Json.Nodes;
using Npgsql;
using NotificationService.Core.Offers;
using NotificationService.Core.Tests.Storage;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// The offers' metadata GIN index (<see cref="OfferStorage"/>) keeps new entries in a pending list, and every containment
/// search reads the whole list until a vacuum, or an insert that finds it full, merges it. The list is kept small, so a
/// search right after a burst of offers reads a few pages of the index, and the setting survives the core's migration
/// without rebuilding the index at every start. In a schema of the test's own, with autovacuum off on its offers, so
/// nothing merges the list behind the test's back.
/// </summary>
public sealed class when_new_offers_wait_in_the_metadata_index : IAsyncLifetime
{
    private const string Index = "mt_doc_offer_idx_metadata_gin";
    private readonly ScratchSchema _schema = new("pending", opts => opts.AddOfferStorage());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _schema.DisposeAsync();

    [Fact]
    public async Task a_search_after_a_burst_of_offers_reads_a_few_pages_of_the_index()
    {
        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await _schema.ExecuteAsync($"ALTER TABLE {_schema.Name}.mt_doc_offer SET (autovacuum_enabled = false)");
        // 20,000 offers with two pairs each: 40,000 entries, about 100 pages of pending list under PostgreSQL's default 4 MB
        // (101 index pages read without the limit, tried).
        await _schema.ExecuteAsync($$"""
            INSERT INTO {{_schema.Name}}.mt_doc_offer (id, data, mt_dotnet_type, mt_version, service_id, created_at)
            SELECT gen_random_uuid(), jsonb_build_object('metadata', jsonb_build_object('customer', 'c' || (o % 10000), 'kind', 'k' || (o % 3))),
              'NotificationService.Core.Offers.Offer', gen_random_uuid(), '9bd1a23a-9e4c-4c8f-962d-3379dde1eee0', now() - make_interval(secs => o)
            FROM generate_series(1, 20000) o;
            ANALYZE {{_schema.Name}}.mt_doc_offer;
            """);

        var plan = await QueryPlans.ExecutedAsync(
            $"SELECT o.id FROM {_schema.Name}.mt_doc_offer o WHERE o.data -> 'metadata' @> $1::jsonb", """{"customer": "c42"}""");

        Assert.Equal(2, (long)plan[0]["Actual Rows"]!);
        var scan = plan.Single(n => (string?)n["Index Name"] == Index);
        // The metapage, the entry tree's few pages and at most 64 kB (8 pages) of pending list.
        Assert.InRange((long)scan["Shared Hit Blocks"]! + (long)scan["Shared Read Blocks"]!, 1, 20);
    }

    [Fact]
    public async Task an_index_from_before_the_limit_gets_it_at_the_next_start_and_keeps_it()
    {
        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await _schema.ExecuteAsync(WithoutTheLimit);

        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // A start after it finds nothing to change (no index rebuilt on every start).
        await _schema.Store().Storage.Database.AssertDatabaseMatchesConfigurationAsync();

        Assert.Contains(await _schema.IndexDefinitionsAsync("mt_doc_offer"),
            d => d.Contains(Index) && d.EndsWith($"WITH ({OfferStorage.PendingListLimit}='{OfferStorage.PendingListLimitKb}')"));
    }

    [Fact]
    public async Task an_index_given_the_limit_by_hand_before_the_upgrade_is_not_rebuilt()
    {
        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        await _schema.ExecuteAsync(WithoutTheLimit);
        // What README's upgrade note offers an operator before starting the new core: a catalog change, no rebuild.
        await _schema.ExecuteAsync($"ALTER INDEX {_schema.Name}.{Index} SET ({OfferStorage.PendingListLimit} = {OfferStorage.PendingListLimitKb})");
        var before = await IndexOidAsync();

        await _schema.Store().Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        Assert.Equal(before, await IndexOidAsync());
        await _schema.Store().Storage.Database.AssertDatabaseMatchesConfigurationAsync();
    }

    /// <summary>The index as Marten created it before the limit.</summary>
    private string WithoutTheLimit => $"""
        DROP INDEX {_schema.Name}.{Index};
        CREATE INDEX {Index} ON {_schema.Name}.mt_doc_offer USING gin ((data -> 'metadata') jsonb_path_ops);
        """;

    /// <summary>A rebuilt index is a new relation with a new oid.</summary>
    private async Task<uint> IndexOidAsync()
    {
        await using var connection = new NpgsqlConnection(ScratchTable.Postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT '{_schema.Name}.{Index}'::regclass::oid", connection);
        return (uint)(await command.ExecuteScalarAsync())!;
    }
}
