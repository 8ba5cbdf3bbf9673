using System.Text.Json;
using Npgsql;
using NotificationService.Testing;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;

namespace NotificationService.Core.Tests.Offers;

/// <summary>GET /v1/offers with metadata.&lt;key&gt;=&lt;value&gt; filters (once silently ignored), beside its page and pageSize.</summary>
public sealed class when_a_service_searches_its_offers(SystemFixture system) : IntegrationContext(system)
{
    private Task<OfferAccepted> OfferAsync(Tenant tenant, object? metadata) =>
        System.CreateOfferAsync(tenant, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "someone@example.test") },
            metadata, sendAt = DateTimeOffset.UtcNow.AddDays(1),
        });

    private async Task<HashSet<Guid>> IdsAsync(string query, Tenant? tenant = null) =>
        (await System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, $"/v1/offers{query}", (tenant ?? System.Tenant).ApiKey, expect: 200))
        .Items.Select(o => o.Id).ToHashSet();

    [Fact]
    public async Task metadata_filters_keep_the_offers_holding_every_pair()
    {
        var acmeEu = await OfferAsync(System.Tenant, new { customer = "acme", region = "eu" });
        var acmeUs = await OfferAsync(System.Tenant, new { customer = "acme", region = "us" });
        var none = await OfferAsync(System.Tenant, null);
        var other = await System.CreateTenantAsync($"other-{Guid.NewGuid():N}");
        await OfferAsync(other, new { customer = "acme", region = "eu" });

        Assert.Equal([acmeEu.Id, acmeUs.Id], await IdsAsync("?metadata.customer=acme"));
        Assert.Equal([acmeEu.Id], await IdsAsync("?metadata.customer=acme&metadata.region=eu"));
        Assert.Empty(await IdsAsync("?metadata.customer=acme&metadata.region=asia"));
        Assert.Equal([acmeEu.Id], await IdsAsync("?Metadata.customer=acme&METADATA.region=eu")); // the prefix in any case
        Assert.Equal([acmeEu.Id, acmeUs.Id, none.Id], await IdsAsync(""));

        var page = await System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, "/v1/offers?metadata.customer=acme&pageSize=1&page=2", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(2, page.Total); // the total counts the filtered offers
        Assert.Equal([acmeEu.Id], page.Items.Select(o => o.Id));
    }

    [Fact]
    public async Task one_pair_finds_the_offers_as_their_metadata_is_now_changed_erased_or_long()
    {
        // One pair is read from offer_metadata, which a trigger keeps in step with every write of an offer.
        var tenant = await System.CreateTenantAsync($"pairs-{Guid.NewGuid():N}");
        var longValue = new string('x', 3000); // more than a B-tree index row may hold (2,704 bytes): stored as its hash
        var changed = await OfferAsync(tenant, new { customer = "acme" });
        var erased = await OfferAsync(tenant, new { customer = "acme", note = longValue });
        var kept = await OfferAsync(tenant, new { customer = "acme" });
        async Task<List<Guid>> NewestFirstAsync(string query) =>
            (await System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, $"/v1/offers{query}", tenant.ApiKey, expect: 200))
            .Items.Select(o => o.Id).ToList();
        Assert.Equal([kept.Id, erased.Id, changed.Id], await NewestFirstAsync("?metadata.customer=acme"));
        var counted = await System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, "/v1/offers?metadata.customer=acme&pageSize=2&page=2", tenant.ApiKey, expect: 200);
        Assert.Equal((3L, true), (counted.Total, counted.TotalIsExact));
        Assert.Equal([changed.Id], counted.Items.Select(o => o.Id));
        Assert.Equal([erased.Id], await NewestFirstAsync($"?metadata.note={longValue}"));

        await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/offers/{changed.Id}", tenant.ApiKey, new { metadata = new { customer = "initech" } }, expect: 200);
        await System.SendAsync<JsonElement>(HttpMethod.Post, $"/v1/offers/{erased.Id}/erase", tenant.ApiKey, expect: 200);

        Assert.Equal([kept.Id], await NewestFirstAsync("?metadata.customer=acme"));
        Assert.Equal([changed.Id], await NewestFirstAsync("?metadata.customer=initech"));
        Assert.Empty(await NewestFirstAsync($"?metadata.note={longValue}"));
        // Erased means gone from the index too: the hash of a value (an e-mail address, say) would give it away.
        Assert.Equal([(kept.Id, 1L), (changed.Id, 1L)], await PairRowsAsync(tenant));

        // Deleted rows (the retention sweep deletes offers with SQL) take their pairs with them.
        await using (var connection = new NpgsqlConnection(TestEnvironment.Postgres))
        {
            await connection.OpenAsync();
            await using var delete = new NpgsqlCommand("DELETE FROM ns.mt_doc_offer WHERE id = $1", connection);
            delete.Parameters.Add(new NpgsqlParameter { Value = kept.Id });
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }
        Assert.Empty(await NewestFirstAsync("?metadata.customer=acme"));
        Assert.Equal([(changed.Id, 1L)], await PairRowsAsync(tenant));
    }

    /// <summary>
    /// Deleting offers (retention does it in bulk) reads only their own pairs in the index, however many pairs the service
    /// has: ten deletes in one session, past the five after which PL/pgSQL may switch the trigger to a generic plan, beside
    /// 20,000 pairs of other offers of the service. The delete that joined the pairs read the service's range of the index
    /// for each offer once its generic plan was in use: 2,370 index blocks for ten such deletes, against about 60 now.
    /// </summary>
    [Fact]
    public async Task deleting_offers_reads_only_their_own_pairs_in_the_index()
    {
        var tenant = await System.CreateTenantAsync($"deleted-{Guid.NewGuid():N}");
        var offers = Enumerable.Range(0, 10).Select(_ => Guid.NewGuid()).ToArray();
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using (var pairs = new NpgsqlCommand("""
            INSERT INTO ns.offer_metadata (service_id, pair, created_at, offer_id)
            SELECT $1, md5('pair' || n)::uuid, now() - n * interval '1 second', md5('offer' || n / 2)::uuid FROM generate_series(1, 20000) n
            """, connection))
        {
            pairs.Parameters.Add(new NpgsqlParameter { Value = tenant.Id });
            await pairs.ExecuteNonQueryAsync();
        }
        await using (var seed = new NpgsqlCommand("""
            INSERT INTO ns.mt_doc_offer (id, data, mt_last_modified, mt_dotnet_type, service_id, created_at)
            SELECT id, jsonb_build_object('id', id, 'serviceId', $1, 'jobs', '[]'::jsonb, 'metadata', '{"customer": "acme", "region": "eu"}'::jsonb),
                   now(), 'NotificationService.Core.Offers.Offer', $1, now()
            FROM unnest($2::uuid[]) AS seeded(id)
            """, connection))
        {
            seed.Parameters.Add(new NpgsqlParameter { Value = tenant.Id });
            seed.Parameters.Add(new NpgsqlParameter { Value = offers });
            await seed.ExecuteNonQueryAsync();
        }
        Assert.Equal(20_020L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.offer_metadata WHERE service_id = '{tenant.Id}'"));

        // The counter includes what this backend has not reported yet (the seed's inserts, maybe), and nothing is reported
        // inside a transaction block: the difference across the deletes is theirs alone.
        await using var transaction = await connection.BeginTransactionAsync();
        await using var read = new NpgsqlCommand(
            "SELECT pg_stat_get_xact_blocks_fetched('ns.pkey_offer_metadata_service_id_pair_created_at_offer_id'::regclass)", connection, transaction);
        var before = (long)(await read.ExecuteScalarAsync())!;
        foreach (var offer in offers)
        {
            await using var delete = new NpgsqlCommand("DELETE FROM ns.mt_doc_offer WHERE id = $1", connection, transaction);
            delete.Parameters.Add(new NpgsqlParameter { Value = offer });
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }
        var blocks = (long)(await read.ExecuteScalarAsync())! - before;
        await transaction.CommitAsync();

        Assert.InRange(blocks, 1, 200);
        Assert.Equal(20_000L, await Sql.ScalarAsync<long>($"SELECT count(*) FROM ns.offer_metadata WHERE service_id = '{tenant.Id}'"));
    }

    /// <summary>The service's rows in offer_metadata, per offer, newest offer first.</summary>
    private static async Task<List<(Guid Offer, long Pairs)>> PairRowsAsync(Tenant tenant)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            "SELECT offer_id, count(*) FROM ns.offer_metadata WHERE service_id = $1 GROUP BY offer_id, created_at ORDER BY created_at DESC", connection);
        read.Parameters.Add(new NpgsqlParameter { Value = tenant.Id });
        await using var reader = await read.ExecuteReaderAsync();
        var rows = new List<(Guid, long)>();
        while (await reader.ReadAsync()) rows.Add((reader.GetGuid(0), reader.GetInt64(1)));
        return rows;
    }

    [Fact]
    public async Task past_a_thousand_offers_the_total_stops_counting_and_says_so_while_every_page_is_still_served()
    {
        var tenant = await System.CreateTenantAsync($"many-{Guid.NewGuid():N}");
        // 1,005 offers straight into the table, as an API client would have made them over months (the triggers fill
        // offer_metadata); all in one batch, every 100th of kind rare (11 offers), the others bulk.
        var now = DateTimeOffset.UtcNow;
        var offers = Enumerable.Range(1, Paging.MaxCountedTotal + 5)
            .Select(o => (Id: Guid.NewGuid(), CreatedAt: now.AddSeconds(-o * 61.25), Rare: o % 100 == 1)).ToList(); // newest first
        await using (var connection = new NpgsqlConnection(TestEnvironment.Postgres))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("""
                INSERT INTO ns.mt_doc_offer (id, data, mt_last_modified, mt_dotnet_type, service_id, created_at)
                SELECT id, jsonb_build_object('id', id, 'serviceId', $1, 'jobs', '[]'::jsonb, 'createdAt', created,
                         'metadata', CASE WHEN rare THEN '{"kind": "rare", "batch": "b1"}'::jsonb ELSE '{"kind": "bulk", "batch": "b1"}'::jsonb END),
                       now(), 'NotificationService.Core.Offers.Offer', $1::uuid, created::timestamptz
                FROM unnest($2::uuid[], $3::text[], $4::bool[]) AS seeded(id, created, rare)
                """, connection);
            insert.Parameters.Add(new NpgsqlParameter { Value = tenant.Id.ToString() });
            insert.Parameters.Add(new NpgsqlParameter { Value = offers.Select(o => o.Id).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = offers.Select(o => o.CreatedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'")).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter { Value = offers.Select(o => o.Rare).ToArray() });
            Assert.Equal(offers.Count, await insert.ExecuteNonQueryAsync());
        }
        var few = await System.CreateTenantAsync($"few-{Guid.NewGuid():N}");
        await OfferAsync(few, null);
        Task<PagedResult<OfferSummary>> PageAsync(string query, Tenant? of = null) =>
            System.SendAsync<PagedResult<OfferSummary>>(HttpMethod.Get, $"/v1/offers{query}", (of ?? tenant).ApiKey, expect: 200);
        var ids = offers.Select(o => o.Id).ToList();

        var first = await PageAsync("?pageSize=200");
        Assert.Equal((Paging.MaxCountedTotal, false), (first.Total, first.TotalIsExact));
        Assert.Equal(ids.Take(200), first.Items.Select(o => o.Id));
        var fifth = await PageAsync("?pageSize=200&page=5");
        Assert.Equal(ids.Skip(800).Take(200), fifth.Items.Select(o => o.Id));
        // The 1,001st to the 1,005th offer: a page beyond the counted total is read, not assumed empty.
        var last = await PageAsync($"?pageSize=200&page={Paging.MaxCountedTotal / 200 + 1}");
        Assert.Equal((Paging.MaxCountedTotal, false), (last.Total, last.TotalIsExact));
        Assert.Equal(ids.Skip(Paging.MaxCountedTotal), last.Items.Select(o => o.Id));
        // One pair (offer_metadata): 994 bulk offers, under the bound, counted exactly; all 1,005 of the batch, past it.
        var bulk = await PageAsync("?metadata.kind=bulk&pageSize=50&page=20");
        Assert.Equal((994L, true), (bulk.Total, bulk.TotalIsExact));
        Assert.Equal(ids.Where((_, i) => !offers[i].Rare).Skip(950).Take(50), bulk.Items.Select(o => o.Id));
        var batch = await PageAsync($"?metadata.batch=b1&pageSize=200&page={Paging.MaxCountedTotal / 200 + 1}");
        Assert.Equal((Paging.MaxCountedTotal, false), (batch.Total, batch.TotalIsExact));
        Assert.Equal(ids.Skip(Paging.MaxCountedTotal), batch.Items.Select(o => o.Id));

        var rare = await PageAsync("?metadata.kind=rare&pageSize=200");
        Assert.Equal((11L, true), (rare.Total, rare.TotalIsExact));
        Assert.Equal(offers.Where(o => o.Rare).Select(o => o.Id), rare.Items.Select(o => o.Id));
        // Two pairs (the GIN containment): 11 matches, counted exactly and read by their ids (Paging.PageAsync's other branch).
        var rareInBatch = await PageAsync("?metadata.kind=rare&metadata.batch=b1&pageSize=200");
        Assert.Equal((11L, true), (rareInBatch.Total, rareInBatch.TotalIsExact));
        Assert.Equal(offers.Where(o => o.Rare).Select(o => o.Id), rareInBatch.Items.Select(o => o.Id));
        var exact = await PageAsync("", few);
        Assert.Equal((1L, true), (exact.Total, exact.TotalIsExact));
    }

    [Theory]
    [InlineData("?metadata.=acme", "metadata.")]
    [InlineData("?metadata.customer=a&metadata.customer=b", "metadata.customer")]
    [InlineData("?metadata.a=1&metadata.b=1&metadata.c=1&metadata.d=1&metadata.e=1&metadata.f=1&metadata.g=1&metadata.h=1&metadata.i=1&metadata.j=1&metadata.k=1", "metadata")]
    [InlineData("?metadata.%00=x", "metadata.\u0000")] // jsonb cannot hold NUL: was a 500 (22P05)
    [InlineData("?metadata.%1F=x", "metadata.\u001F")]
    [InlineData("?metadata.customer=%00", "metadata.customer")] // one pair: the value goes to PostgreSQL as text, which cannot hold NUL
    [InlineData("?metadata.customer=a%00b&metadata.region=eu", "metadata.customer")]
    [InlineData("?state=Queued", "state")] // not a filter here: was ignored, and every offer came back
    [InlineData("?page=1&limit=5", "limit")]
    public async Task a_bad_metadata_filter_is_a_422_naming_the_field(string query, string field)
    {
        var (status, problem) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/offers{query}", System.Tenant.ApiKey);

        Assert.Equal(422, status);
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }
}
