using System.Net.Http.Headers;
using System.Text;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>
/// A generated pass of malformed and hostile requests (seeded, so a failure replays): broken JSON, wrong types, schema
/// violations, huge bodies, unknown and other tenants' ids, bad and revoked keys, header abuse. None may get a 5xx, none
/// may store anything, and no response may carry the other tenant's data.
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
        var keyId = (await System.SendAsync<NotificationService.Core.Services.ServiceView>(HttpMethod.Get, $"/admin/services/{revoked.Id}", SystemFixture.AdminKey, expect: 200)).Keys[0].KeyId;
        await System.SendRawAsync(HttpMethod.Delete, $"/admin/services/{revoked.Id}/keys/{keyId}", SystemFixture.AdminKey);
        var offersBefore = await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_offer");
        var jobsBefore = await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_job");

        var random = new Random(20261128);
        var attackerKeys = new[] { System.Tenant.ApiKey, System.Tenant.ApiKey, System.Tenant.ApiKey, revoked.ApiKey, "nss_forged", "", "Bearer", SystemFixture.AdminKey };
        var victimIds = new[] { victimOffer.Id, victimOffer.Jobs[0].Id };
        var statuses = new Dictionary<int, int>();

        for (var i = 0; i < 2500; i++)
        {
            var key = attackerKeys[random.Next(attackerKeys.Length)];
            var (method, url, body, contentType) = Generate(random, victimIds);
            using var request = new HttpRequestMessage(method, url);
            if (body is not null) request.Content = new ByteArrayContent(body) { Headers = { ContentType = MediaTypeHeaderValue.Parse(contentType) } };
            switch (random.Next(6))
            {
                case 0: request.Headers.TryAddWithoutValidation("Authorization", key); break; // no scheme
                case 1: request.Headers.TryAddWithoutValidation("Authorization", $"Basic {key}"); break;
                default: request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}"); break;
            }
            if (random.Next(4) == 0) request.Headers.TryAddWithoutValidation("Idempotency-Key", new string('k', random.Next(0, 400)));
            if (random.Next(8) == 0) request.Headers.TryAddWithoutValidation("X-Forwarded-For", string.Join(",", Enumerable.Repeat("10.0.0.1", 200)));

            using var response = await System.Http.SendAsync(request);
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync();
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status < 500, $"#{i} {method} {url} answered {status}: {text}");
            Assert.DoesNotContain(secretMarker, text);
        }

        Assert.Equal(offersBefore, await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_offer"));
        Assert.Equal(jobsBefore, await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_job"));
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
        return random.Next(12) switch
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
            _ => (HttpMethod.Get, $"/v1/offers?page={Uri.EscapeDataString(Garbage(random, 5))}&pageSize={random.Next(-5, 100000)}", null, ""),
        };
    }

    private static string Garbage(Random random, int length)
    {
        const string alphabet = "abcXYZ019{}[]\":,\\/%\u00e9\u4e2d'<>-_. ";
        return new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
    }
}
