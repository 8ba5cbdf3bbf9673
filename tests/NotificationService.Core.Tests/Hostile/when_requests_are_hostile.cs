using System.Net.Http.Headers;
using System.Text;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>
/// A generated pass of malformed and hostile requests (seeded, so a failure replays): broken JSON, wrong types, schema
/// violations, huge bodies, unknown and other tenants' ids, bad and revoked keys, header abuse; strings jsonb cannot
/// store (NUL, lone surrogates, invalid UTF-8) in values and keys, integer and date edges in every numeric query and body
/// field, empty and malformed ids in every path (admin routes too), repeated keys, deep and wide JSON, huge numbers.
/// None may get a 5xx, none may store an offer or job, and no response may carry the other tenant's data.
/// </summary>
public sealed class when_requests_are_hostile(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task thousands_of_them_get_only_4xx_store_nothing_and_leak_nothing()
    {
        var victim = await System.CreateTenantAsync($"victim-{Guid.NewGuid():N}");
        var secretMarker = $"victim-secret-{Guid.NewGuid():N}";
        var victimOffer = await System.CreateOfferAsync(victim, new
        {
            targets = new[] { ClientApi.EmailTarget(System.Email.Name, "victim@example.test", secretMarker) }, metadata = new { note = secretMarker },
        });
        var revoked = await System.CreateTenantAsync($"revoked-{Guid.NewGuid():N}");
        var keyId = (await System.SendAsync<NotificationService.Core.ServiceAdmin.ServiceView>(HttpMethod.Get, $"/admin/services/{revoked.Id}", SystemFixture.AdminKey, expect: 200)).Keys[0].KeyId;
        await System.SendForStatusAsync(HttpMethod.Delete, $"/admin/services/{revoked.Id}/keys/{keyId}", SystemFixture.AdminKey);
        var offersBefore = await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_offer");
        var jobsBefore = await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_job");

        var random = new Random(20261128);
        var attackerKeys = new[] { System.Tenant.ApiKey, System.Tenant.ApiKey, System.Tenant.ApiKey, revoked.ApiKey, "nss_forged", "", "Bearer", SystemFixture.AdminKey };
        var victimIds = new[] { victimOffer.Id, victimOffer.Jobs[0].Id };
        var statuses = new Dictionary<int, int>();

        // Valid traffic from the victim alongside: none of it may fail while the hostile requests are refused.
        using var stop = new CancellationTokenSource();
        var valid = Task.Run(async () =>
        {
            var (accepted, failures) = (0, new List<string>());
            while (!stop.IsCancellationRequested)
            {
                var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", victim.ApiKey,
                    new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "valid@example.test") }, metadata = new { n = $"{accepted}" } });
                if (status == 202) accepted++; else failures.Add($"POST {status}: {body}");
                var (read, _) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/offers/{victimOffer.Id}", victim.ApiKey);
                if (read != 200) failures.Add($"GET {read}");
            }
            return (accepted, failures);
        });

        for (var i = 0; i < 4000; i++)
        {
            var key = attackerKeys[random.Next(attackerKeys.Length)];
            var (method, url, body, contentType) = Generate(random, victimIds);
            // Raw HTTP on purpose: random bytes, malformed Authorization headers and oversized headers, sent as a hostile client would.
            using var request = new HttpRequestMessage(method, url);
            if (body is not null) request.Content = new ByteArrayContent(body) { Headers = { ContentType = MediaTypeHeaderValue.Parse(contentType) } };
            var asAdmin = false;
            switch (random.Next(6))
            {
                case 0: request.Headers.TryAddWithoutValidation("Authorization", key); break; // no scheme
                case 1: request.Headers.TryAddWithoutValidation("Authorization", $"Basic {key}"); break;
                default: request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}"); asAdmin = key == SystemFixture.AdminKey; break;
            }
            if (random.Next(4) == 0) request.Headers.TryAddWithoutValidation("Idempotency-Key", new string('k', random.Next(0, 400)));
            if (random.Next(8) == 0) request.Headers.TryAddWithoutValidation("X-Forwarded-For", string.Join(",", Enumerable.Repeat("10.0.0.1", 200)));

            using var response = await System.Http.SendAsync(request);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status < 500, $"#{i} {method} {url} answered {status}: {text}");
            // The admin key reads every tenant's jobs by design (GET /admin/jobs/{id}/events with the victim's job id); any
            // other key, or the admin key sent without its scheme, must never see the victim's data.
            if (!asAdmin) Assert.False(text.Contains(secretMarker), $"#{i} {method} {url} leaked: {text}");
        }

        await stop.CancelAsync();
        var (validAccepted, validFailures) = await valid;
        Assert.Empty(validFailures);
        Assert.True(validAccepted > 0);
        Assert.Equal(offersBefore + validAccepted, await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_offer"));
        Assert.Equal(jobsBefore + validAccepted, await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_job"));
        Assert.True(statuses.Keys.Count(s => s is >= 400 and < 500) >= 5, $"a varied pass: {string.Join(", ", statuses.Select(s => $"{s.Key}x{s.Value}"))}");
    }

    /// <summary>One hostile request: only 4xx-worthy inputs (every offer is broken in at least one way).</summary>
    private (HttpMethod, string, byte[]?, string) Generate(Random random, Guid[] victimIds)
    {
        var id = random.Next(3) switch { 0 => victimIds[random.Next(victimIds.Length)].ToString(), 1 => Guid.NewGuid().ToString(), _ => Uri.EscapeDataString(Garbage(random, 40)) };
        byte[] Json(string s) => Encoding.UTF8.GetBytes(s);
        var adapter = System.Email.Name;
        var brokenOffers = new[]
        {
            "{", "[]", "null", "\"text\"", "{\"targets\":", "{\"targets\":null}", "{\"targets\":{}}", "{\"targets\":[1,2]}",
            "{\"targets\":[{\"adapter\":123,\"params\":{}}]}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":[]}}]}}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"to\":{{\"$ne\":1}},\"subject\":\"x\",\"text\":\"y\"}}}}]}}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"to\":\"a@b.c\",\"subject\":\"\",\"text\":\"y\"}}}}]}}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"to\":\"a@b.c\",\"subject\":\"s\"}}}}]}}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"to\":\"a@b.c\",\"subject\":\"s\",\"text\":\"t\"}}}}],\"expireAt\":\"yesterday\"}}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"to\":\"a@b.c\",\"subject\":\"s\",\"text\":\"t\"}}}}],\"expireAt\":\"2001-01-01T00:00:00Z\"}}",
            $"{{\"targets\":[{{\"adapter\":\"../../etc/passwd\",\"params\":{{}}}}]}}",
            $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{{\"to\":\"a@b.c\",\"subject\":\"s\",\"text\":\"t\"}}}}],\"metadata\":{{\"a\":{{\"nested\":1}}}}}}",
            "{\"targets\":[" + string.Join(",", Enumerable.Repeat($"{{\"adapter\":\"{adapter}\",\"params\":{{}}}}", 150)) + "]}",
            new string('[', 5000) + new string(']', 5000),
        };
        return random.Next(18) switch
        {
            0 or 1 or 2 => (HttpMethod.Post, "/v1/offers", Json(brokenOffers[random.Next(brokenOffers.Length)]), "application/json"),
            // NUL bytes go in bodies only: the in-process test server cannot carry one in a path (Kestrel answers 400).
            3 => (HttpMethod.Post, "/v1/offers", Encoding.UTF8.GetBytes(Garbage(random, random.Next(1, 3000)) + "\u0000"), random.Next(2) == 0 ? "application/json" : "text/plain"),
            4 => (HttpMethod.Post, "/v1/offers", new byte[1_200_000], "application/json"),
            5 => (HttpMethod.Get, $"/v1/jobs/{id}", null, ""),
            6 => (HttpMethod.Get, $"/v1/jobs/{id}/events", null, ""),
            7 => (HttpMethod.Post, $"/v1/jobs/{id}/cancel", null, ""),
            8 => (HttpMethod.Get, $"/v1/offers/{id}", null, ""),
            9 => (HttpMethod.Patch, $"/v1/offers/{id}", Json(brokenOffers[random.Next(brokenOffers.Length)]), "application/json"),
            10 => (HttpMethod.Delete, $"/v1/offers/{id}", null, ""),
            11 => (HttpMethod.Get, $"/v1/offers?page={Uri.EscapeDataString(Garbage(random, 5))}&pageSize={random.Next(-5, 100000)}", null, ""),
            12 or 13 => (HttpMethod.Post, "/v1/offers", UnstorableOffer(random, adapter), "application/json"),
            14 => EdgeQuery(random),
            _ => AdminPath(random, id),
        };
    }

    /// <summary>Integer, date and string edges the query parser and the database must both survive.</summary>
    private static readonly string[] Edges =
    [
        "0", "-1", "1", "2147483647", "2147483648", "-2147483648", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "1e400", "-0", "1.5", "", "%00", "a%00b", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-00-00", "NaN", "Infinity",
        Guid.Empty.ToString(), "%ED%A0%80", "%FF%FE",
    ];

    private static (HttpMethod, string, byte[]?, string) EdgeQuery(Random random)
    {
        string Edge() => Edges[random.Next(Edges.Length)];
        return random.Next(5) switch
        {
            0 => (HttpMethod.Get, $"/v1/offers?page={Edge()}&pageSize={Edge()}", null, ""),
            // The job search: each parameter and the metadata filters (the victim's offer carries metadata too).
            3 => (HttpMethod.Get, $"/v1/jobs?state={Edge()}&adapter={Edge()}&offerId={Edge()}&createdFrom={Edge()}&createdTo={Edge()}&limit={Edge()}&cursor={Edge()}", null, ""),
            4 => (HttpMethod.Get, $"/v1/{(random.Next(2) == 0 ? "jobs" : "offers")}?metadata.{Edge()}={Edge()}&metadata.note={Edge()}", null, ""),
            1 => (HttpMethod.Get, $"/admin/jobs?page={Edge()}&pageSize={Edge()}&from={Edge()}&to={Edge()}", null, ""),
            _ => (HttpMethod.Get, $"/admin/jobs?state={Edge()}&adapter={Edge()}&service={Edge()}", null, ""),
        };
    }

    /// <summary>Every route with an id, with the all-zero, a malformed or an unknown id; writes carry a hostile body.</summary>
    private static (HttpMethod, string, byte[]?, string) AdminPath(Random random, string id)
    {
        id = random.Next(3) switch { 0 => Guid.Empty.ToString(), 1 => Guid.Empty.ToString("N"), _ => id };
        var body = Encoding.UTF8.GetBytes(random.Next(4) switch
        {
            0 => "{\"name\":\"a\\u0000b\"}",
            1 => "{\"policy\":{\"maxAttempts\":" + Edges[random.Next(10)] + ",\"initialBackoffSeconds\":1e400}}",
            2 => "{\"name\":\"x\",\"name\":\"y\"}",
            _ => "{\"services\":[\"" + Guid.Empty + "\"],\"config\":{\"\\ud800\":1}}",
        });
        return random.Next(21) switch
        {
            18 => (HttpMethod.Post, $"/admin/services/{id}/callbacks", body, "application/json"),
            19 => (HttpMethod.Delete, $"/admin/services/{id}/callbacks/{id}", null, ""),
            20 => (HttpMethod.Post, $"/admin/services/{id}/callbacks/{id}/enable", null, ""),
            0 => (HttpMethod.Post, $"/admin/jobs/{id}/retry", null, ""),
            1 => (HttpMethod.Get, $"/admin/jobs/{id}", null, ""),
            2 => (HttpMethod.Get, $"/admin/jobs/{id}/events", null, ""),
            3 => (HttpMethod.Patch, $"/admin/services/{id}", body, "application/json"),
            4 => (HttpMethod.Post, $"/admin/services/{id}/block", null, ""),
            5 => (HttpMethod.Post, $"/admin/services/{id}/unblock", null, ""),
            6 => (HttpMethod.Post, $"/admin/services/{id}/keys", null, ""),
            7 => (HttpMethod.Delete, $"/admin/services/{id}/keys/{id}", null, ""),
            8 => (HttpMethod.Patch, $"/admin/adapters/{id}", body, "application/json"),
            9 => (HttpMethod.Post, $"/admin/adapters/{id}/block", null, ""),
            10 => (HttpMethod.Post, $"/admin/adapters/{id}/unblock", null, ""),
            11 => (HttpMethod.Delete, $"/admin/adapters/{id}", null, ""),
            12 => (HttpMethod.Get, $"/admin/services/{id}/history", null, ""),
            13 => (HttpMethod.Patch, $"/admin/services/{id}/limits", body, "application/json"),
            14 => (HttpMethod.Get, $"/admin/services/{id}/limits", null, ""),
            15 => (HttpMethod.Patch, $"/admin/services/{id}/retention", body, "application/json"),
            16 => (HttpMethod.Post, "/admin/erasures", Encoding.UTF8.GetBytes(random.Next(2) == 0 ? "{\"recipient\":\"a\\u0000@b.test\"}" : "{\"recipient\":\"\\ud800\"}"), "application/json"),
            _ => (HttpMethod.Get, $"/admin/adapters/{id}/history", null, ""),
        };
    }

    /// <summary>
    /// An offer that would be valid but for one thing: a string or key jsonb cannot store, raw bytes that are not UTF-8,
    /// a repeated key, a misspelt field, a huge or edge number, an edge date, deep or wide JSON.
    /// </summary>
    private static byte[] UnstorableOffer(Random random, string adapter)
    {
        string Offer(string @params, string extra = "") => $"{{\"targets\":[{{\"adapter\":\"{adapter}\",\"params\":{@params}}}]{extra}}}";
        const string fine = "\"to\":\"a@example.test\",\"text\":\"t\"";
        var bad = new[] { "\\u0000", "a\\u0000", "\\ud800", "\\udfff", "x\\udc00\\ud800", "\\u0001\\u0000" };
        var text = bad[random.Next(bad.Length)];
        var edge = Edges[random.Next(10)];
        var choice = random.Next(12);
        if (choice == 0)
        {
            // Raw bytes that are not UTF-8 (a lone surrogate encoded as UTF-8, or 0xFF 0xFE) inside the subject.
            var body = Encoding.UTF8.GetBytes(Offer("{" + fine + ",\"subject\":\"ab__\"}"));
            var at = Array.IndexOf(body, (byte)'_');
            (body[at], body[at + 1]) = random.Next(2) == 0 ? ((byte)0xff, (byte)0xfe) : ((byte)0xed, (byte)0xa0);
            return body;
        }
        return Encoding.UTF8.GetBytes(choice switch
        {
            1 => Offer("{" + fine + ",\"subject\":\"" + text + "\"}"),
            2 => Offer("{" + fine + ",\"subject\":\"s\",\"" + text + "\":\"x\"}"),
            3 => Offer("{" + fine + ",\"subject\":\"s\"}", ",\"metadata\":{\"note\":\"" + text + "\"}"),
            4 => Offer("{" + fine + ",\"subject\":\"s\"}", ",\"metadata\":{\"" + text + "\":\"v\"}"),
            5 => Offer("{" + fine + ",\"subject\":\"s\",\"subject\":\"t\"}"),
            6 => Offer("{" + fine + ",\"subject\":\"s\"}", ",\"send_at\":\"2030-01-01T00:00:00Z\""),
            7 => Offer("{" + fine + ",\"subject\":" + (edge.Length == 0 ? "0" : edge) + "}"),
            8 => Offer("{" + fine + ",\"subject\":\"s\"}", ",\"expireAt\":\"" + Edges[random.Next(15, 18)] + "\",\"sendAt\":" + (edge.Length == 0 ? "0" : edge)),
            9 => Offer("{" + fine + ",\"subject\":\"s\",\"deep\":" + new string('[', 65 + random.Next(3000)) + new string(']', 0) + "}"),
            10 => Offer("{" + fine + ",\"subject\":\"s\",\"wide\":[" + string.Join(",", Enumerable.Range(0, 20000 + random.Next(40000))) + "]}"),
            _ => Offer("{" + fine + ",\"subject\":\"s\"}", ",\"metadata\":{" + string.Join(",", Enumerable.Range(0, 5000).Select(i => $"\"k{i}\":\"v\"")) + "}"),
        });
    }

    private static string Garbage(Random random, int length)
    {
        const string alphabet = "abcXYZ019{}[]\":,\\/%\u00e9\u4e2d'<>-_. ";
        return new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
    }
}
