using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace NotificationService.Bench;

/// <summary>
/// Job search at scale (issue 12, item 4): one tenant with a million jobs (a quarter as many offers, metadata on each)
/// beside other tenants' jobs, seeded straight into the Marten tables, then GET /v1/jobs and GET /v1/offers over HTTP:
/// the first page, a deep page by cursor, each filter, the metadata filters. The seed is deleted afterwards.
/// </summary>
public static class Search
{
    private const string Prefix = "bench-search";

    public static async Task<SearchResult> RunAsync(Stack stack, string postgres, bool quick)
    {
        var (tenantJobs, otherJobs, repeats) = quick ? (20_000, 4_000, 10) : (1_000_000, 200_000, 100);
        Console.WriteLine($"-- search: GET /v1/jobs over {tenantJobs} jobs of one tenant, beside {otherJobs} of 50 others");
        var service = await stack.AdminAsync("/admin/services", new { name = $"{Prefix}-{Guid.NewGuid():N}"[..30] });
        var (serviceId, key) = (service.GetProperty("id").GetGuid(), service.GetProperty("apiKey").GetString()!);

        var seedStarted = Stopwatch.GetTimestamp();
        await SqlAsync(postgres, SeedSql, ("svc", serviceId), ("n", tenantJobs), ("others", otherJobs));
        var seedSeconds = Math.Round(Stopwatch.GetElapsedTime(seedStarted).TotalSeconds, 1);
        Console.WriteLine($"   seeded in {seedSeconds} s");

        async Task<JsonElement> GetAsync(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(stack.CoreUrls[0], path));
            request.Headers.Authorization = new("Bearer", key);
            using var response = await stack.Http.SendAsync(request);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return await response.Content.ReadFromJsonAsync<JsonElement>();
        }

        // A cursor deep in the list: the page that ends 90% of the way back (createdTo jumps there), then its next.
        var newest = (await GetAsync("/v1/jobs?limit=1")).GetProperty("items")[0].GetProperty("createdAt").GetDateTimeOffset();
        var deepAt = newest.AddSeconds(-(tenantJobs * 0.9)); // the seed's offers are 4 s apart, 4 jobs each
        var deepCursor = (await GetAsync($"/v1/jobs?limit=50&createdTo={Uri.EscapeDataString(deepAt.ToString("O"))}")).GetProperty("next").GetString()!;
        var anOffer = (await GetAsync($"/v1/jobs?limit=1&createdTo={Uri.EscapeDataString(newest.AddSeconds(-tenantJobs / 2.0).ToString("O"))}"))
            .GetProperty("items")[0].GetProperty("offerId").GetGuid();
        var hour = (From: Uri.EscapeDataString(deepAt.AddHours(-1).ToString("O")), To: Uri.EscapeDataString(deepAt.ToString("O")));

        (string Name, string Path)[] queries =
        [
            ("first page (50)", "/v1/jobs"),
            ("first page (200)", "/v1/jobs?limit=200"),
            ("deep page by cursor (90% back)", $"/v1/jobs?cursor={deepCursor}"),
            ("state=Failed (0.1%)", "/v1/jobs?state=Failed"),
            ("state=Queued (2%)", "/v1/jobs?state=Queued"),
            ("adapter, 19% of the jobs", $"/v1/jobs?adapter={Prefix}-sms"),
            ("adapter, 1% of the jobs", $"/v1/jobs?adapter={Prefix}-rare"),
            ("offerId", $"/v1/jobs?offerId={anOffer}"),
            ("createdFrom/createdTo, one hour deep", $"/v1/jobs?createdFrom={hour.From}&createdTo={hour.To}"),
            ("metadata, 1 in 10,000 offers", "/v1/jobs?metadata.customer=c42"),
            ("metadata, 1 in 3 offers", "/v1/jobs?metadata.kind=receipt"),
            ("metadata, two keys", "/v1/jobs?metadata.kind=welcome&metadata.customer=c42"),
            // The offers listing keeps its page/pageSize (OFFSET) and total count: the count reads every match.
            ("offers: metadata, 1 in 10,000", "/v1/offers?metadata.customer=c42"),
            ("offers: metadata, 1 in 3", "/v1/offers?metadata.kind=receipt"),
        ];
        var timings = new List<SearchTiming>();
        foreach (var (name, path) in queries)
        {
            var items = (await GetAsync(path)).GetProperty("items").GetArrayLength(); // warm
            var ms = new List<double>();
            for (var i = 0; i < repeats; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await GetAsync(path);
                ms.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            var timing = new SearchTiming(name, items, Percentiles.Of(ms));
            Console.WriteLine($"   {name}: {items} items, p50 {timing.Ms.P50} ms, p99 {timing.Ms.P99} ms");
            timings.Add(timing);
        }

        await SqlAsync(postgres, DeleteSql, ("svc", serviceId), ("n", tenantJobs), ("others", otherJobs));
        return new SearchResult(tenantJobs, otherJobs, seedSeconds, timings);
    }

    /// <summary>`./ns bench --search [--quick]`: only this phase.</summary>
    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick)
    {
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq);
        Console.WriteLine(Report(await RunAsync(stack, postgres, quick)));
        return 0;
    }

    public static string Report(SearchResult r)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine();
        sb.AppendLine($"Search: one tenant's {r.TenantJobs} jobs beside {r.OtherJobs} of other tenants (seeded in {r.SeedSeconds} s), sequential GETs over HTTP:");
        sb.AppendLine();
        sb.AppendLine("| Query | items | p50 ms | p99 ms |");
        sb.AppendLine("| --- | --- | --- | --- |");
        foreach (var t in r.Timings) sb.AppendLine($"| {t.Query} | {t.Items} | {t.Ms.P50} | {t.Ms.P99} |");
        return sb.ToString();
    }

    private static async Task SqlAsync(string postgres, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 1800 };
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Offers 4 s apart, 4 jobs each, newest first from now; the tenant's are the newest quarter-million, the others'
    /// (50 services) older. Metadata: customer (1 of 10,000) and kind (1 of 3). Jobs: 80% email, 19% sms, 1% rare;
    /// 97.9% Finished, 2% Queued, 0.1% Failed. Valid documents, as the projection would write them.
    /// </summary>
    private const string SeedSql = $$"""
        INSERT INTO ns.mt_doc_offer (id, data, mt_dotnet_type, service_id, created_at)
        SELECT md5('{{Prefix}}-offer-' || o)::uuid,
          jsonb_build_object('id', md5('{{Prefix}}-offer-' || o)::uuid,
            'serviceId', service_id,
            'createdAt', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'metadata', jsonb_build_object('customer', 'c' || (o % 10000), 'kind', (ARRAY['welcome', 'receipt', 'reset'])[o % 3 + 1]),
            'jobs', '[]'::jsonb),
          'NotificationService.Core.Offers.Offer', service_id, created_at
        FROM generate_series(1, (@n + @others) / 4) o,
             LATERAL (SELECT CASE WHEN o <= @n / 4 THEN @svc ELSE md5('{{Prefix}}-other-' || (o % 50))::uuid END AS service_id,
                             now() - make_interval(secs => o * 4) AS created_at) c;
        INSERT INTO ns.mt_doc_job (id, data, mt_dotnet_type, mt_version, created_at, service_id, state, adapter_name)
        SELECT md5('{{Prefix}}-job-' || j)::uuid,
          jsonb_build_object('id', md5('{{Prefix}}-job-' || j)::uuid, 'offerId', md5('{{Prefix}}-offer-' || ((j + 3) / 4))::uuid,
            'serviceId', CASE WHEN j <= @n THEN @svc ELSE md5('{{Prefix}}-other-' || (((j + 3) / 4) % 50))::uuid END,
            'adapterId', md5('{{Prefix}}-adapter-' || (CASE WHEN j % 100 = 0 THEN 2 WHEN j % 5 = 0 THEN 1 ELSE 0 END))::uuid,
            'adapterName', (ARRAY['{{Prefix}}-email', '{{Prefix}}-sms', '{{Prefix}}-rare'])[CASE WHEN j % 100 = 0 THEN 3 WHEN j % 5 = 0 THEN 2 ELSE 1 END],
            'params', jsonb_build_object('to', 'user' || j || '@example.test', 'subject', 'Hello', 'text', 'Seeded'),
            'state', CASE WHEN j % 1000 = 7 THEN 'Failed' WHEN j % 50 = 3 THEN 'Queued' ELSE 'Finished' END,
            'createdAt', to_char((now() - make_interval(secs => ((j + 3) / 4) * 4)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'attempts', 1, 'possibleDuplicates', 0, 'cancellationRequested', false, 'retries', 0, 'possiblyDelivered', false, 'generation', 0, 'version', 3),
          'NotificationService.Storage.Jobs.Job', 3, now() - make_interval(secs => ((j + 3) / 4) * 4),
          CASE WHEN j <= @n THEN @svc ELSE md5('{{Prefix}}-other-' || (((j + 3) / 4) % 50))::uuid END,
          CASE WHEN j % 1000 = 7 THEN 'Failed' WHEN j % 50 = 3 THEN 'Queued' ELSE 'Finished' END,
          (ARRAY['{{Prefix}}-email', '{{Prefix}}-sms', '{{Prefix}}-rare'])[CASE WHEN j % 100 = 0 THEN 3 WHEN j % 5 = 0 THEN 2 ELSE 1 END]
        FROM generate_series(1, @n + @others) j;
        ANALYZE ns.mt_doc_job;
        ANALYZE ns.mt_doc_offer;
        """;

    private const string DeleteSql = $$"""
        DELETE FROM ns.mt_doc_job WHERE id IN (SELECT md5('{{Prefix}}-job-' || j)::uuid FROM generate_series(1, @n + @others) j);
        DELETE FROM ns.mt_doc_offer WHERE id IN (SELECT md5('{{Prefix}}-offer-' || o)::uuid FROM generate_series(1, (@n + @others) / 4) o);
        """;
}
