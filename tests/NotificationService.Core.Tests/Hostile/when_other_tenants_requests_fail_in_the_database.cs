using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NotificationService.Core.Offers;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>
/// Requests that fail inside PostgreSQL, in the middle of a batched transaction, must not hurt the requests that share
/// the connection pool with them. Npgsql's automatic preparation lost track of which statements a connection had
/// prepared after such a failure and handed the connection to the next request, which then got a 500.
/// </summary>
public sealed class when_other_tenants_requests_fail_in_the_database(SystemFixture system) : IntegrationContext(system)
{
    private const int ValidLoops = 4, OffersPerLoop = 120;

    [Fact]
    public async Task valid_requests_of_other_tenants_all_succeed()
    {
        var victims = await Task.WhenAll(Enumerable.Range(0, ValidLoops).Select(i => System.CreateTenantAsync($"victim-{i}-{Guid.NewGuid():N}")));
        var attacker = await System.CreateTenantAsync($"attacker-{Guid.NewGuid():N}");
        // A failure raised by PostgreSQL itself in the offer's batch, after several statements ran (like a deadlock or
        // a constraint violation would be): the offer insert of any offer whose metadata asks for it.
        await Sql.ExecuteAsync("""
            CREATE OR REPLACE FUNCTION ns.fail_doomed_offer() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER fail_doomed_offer BEFORE INSERT ON ns.mt_doc_offer
              FOR EACH ROW WHEN (NEW.data -> 'metadata' ->> 'doom' IS NOT NULL) EXECUTE FUNCTION ns.fail_doomed_offer();
            """);
        // A number below numeric's range is a finite double to .NET (1e-20000 reads as 0); jsonb refused it while binding
        // the offer's insert. The body checks refuse it now (422), so no request reaches the database with it. No worker
        // runs for this adapter: no offer gets that far.
        var hook = await System.CreateAdapterAsync($"hook-{Guid.NewGuid():N}"[..20], "webhook", new { url = "http://127.0.0.1:9/in", secret = "webhook-secret-0123456789" });
        var tinyNumber = $$$$"""{"targets":[{"adapter":"{{{{hook.Name}}}}","params":{"payload":{"n":1e-20000}}}]}""";
        var failures = new ConcurrentQueue<string>();
        var (nul, doomed, racing, tiny) = (new ConcurrentDictionary<int, int>(), new ConcurrentDictionary<int, int>(), new ConcurrentDictionary<int, int>(), new ConcurrentDictionary<int, int>());
        var unbound = new ConcurrentDictionary<string, int>();
        using var stop = new CancellationTokenSource();
        try
        {
            var attacks = new[]
            {
                AttackAsync(attacker, _ => (Offer("a\\u0000b"), null), nul, stop.Token),
                AttackAsync(attacker, _ => (Offer("doomed", metadata: "\"doom\":\"yes\""), null), doomed, stop.Token),
                AttackAsync(attacker, _ => (tinyNumber, null), tiny, stop.Token, parallel: 4),
                // Racing duplicates: all but one insert of the idempotency record violate its primary key.
                AttackAsync(attacker, i => (Offer("race"), $"race-{i / 4}"), racing, stop.Token, parallel: 4),
                BindFailuresAsync(attacker, unbound, stop.Token),
            };
            var valid = victims.Select(victim => ValidLoopAsync(victim, failures)).ToArray();
            await Task.WhenAll(valid);
            stop.Cancel();
            await Task.WhenAll(attacks);
        }
        finally
        {
            await Sql.ExecuteAsync("DROP TRIGGER fail_doomed_offer ON ns.mt_doc_offer; DROP FUNCTION ns.fail_doomed_offer();");
        }

        Assert.True(failures.IsEmpty, $"{failures.Count} of {ValidLoops * OffersPerLoop * 2} valid requests failed:\n{string.Join("\n", failures.Take(10))}");
        // The failures did happen inside PostgreSQL, in the middle of the offers' transactions: the trigger's (a 500, the
        // server's own failure) and the idempotency race's unique violations (409). A NUL and a number jsonb cannot store
        // are refused before the database.
        static string Seen(ConcurrentDictionary<int, int> statuses) => string.Join(", ", statuses.Select(s => $"{s.Key}x{s.Value}"));
        Assert.True(doomed.ContainsKey(500) && !doomed.Keys.Any(s => s < 500), $"doomed offers: {Seen(doomed)}");
        Assert.True(racing.ContainsKey(409), $"racing duplicates: {Seen(racing)}");
        Assert.True(nul.Keys.All(s => s == 422), $"offers with a NUL: {Seen(nul)}");
        Assert.True(tiny.Keys.All(s => s == 422), $"offers with a number jsonb cannot store: {Seen(tiny)}");
        // The failure Npgsql's automatic preparation mishandled did happen, on the core's own pool, again and again.
        Assert.True(unbound.GetValueOrDefault("22P05") >= 3 && unbound.Keys.All(k => k == "22P05"), $"offer inserts PostgreSQL refused to bind: {string.Join(", ", unbound)}");
    }

    /// <summary>
    /// A failure while PostgreSQL binds a statement's parameters, before it describes the rows: the one Npgsql's automatic
    /// preparation mishandled (npgsql/npgsql#6391, bench/README.md "Statement preparation, again"). No request can cause
    /// it any more (the body checks refuse what jsonb would), so it is caused here, through the core's own store and
    /// connection pool, with the very statement every valid offer runs: the offer's insert, its data holding a NUL.
    /// </summary>
    private async Task BindFailuresAsync(Tenant attacker, ConcurrentDictionary<string, int> seen, CancellationToken stop)
    {
        var store = System.Core.Services.GetRequiredService<IDocumentStore>();
        while (!stop.IsCancellationRequested)
        {
            await using var session = store.LightweightSession();
            session.Insert(new Offer { Id = Guid.NewGuid(), ServiceId = attacker.Id, CreatedAt = DateTimeOffset.UtcNow, Metadata = new() { ["n"] = "a\0b" } });
            try { await session.SaveChangesAsync(); seen.AddOrUpdate("stored", 1, (_, c) => c + 1); }
            catch (Exception e)
            {
                var postgres = e as PostgresException ?? e.InnerException as PostgresException;
                seen.AddOrUpdate(postgres?.SqlState ?? e.GetType().Name, 1, (_, c) => c + 1);
            }
            await Task.Delay(5);
        }
    }

    private async Task ValidLoopAsync(Tenant victim, ConcurrentQueue<string> failures)
    {
        for (var i = 0; i < OffersPerLoop; i++)
        {
            var (status, body) = await SendAsync(victim, Offer($"valid {i}"), idempotencyKey: null);
            if (status != 202) { failures.Enqueue($"POST /v1/offers {status}: {body}"); continue; }
            var jobId = JsonDocument.Parse(body).RootElement.GetProperty("jobs")[0].GetProperty("id").GetGuid();
            var (getStatus, job) = await System.SendForStatusAsync(HttpMethod.Get, $"/v1/jobs/{jobId}", victim.ApiKey);
            if (getStatus != 200) failures.Enqueue($"GET /v1/jobs/{jobId} {getStatus}: {job}");
        }
    }

    private async Task AttackAsync(Tenant attacker, Func<int, (string Body, string? Key)> next, ConcurrentDictionary<int, int> statuses, CancellationToken stop, int parallel = 1)
    {
        for (var i = 0; !stop.IsCancellationRequested; i += parallel)
        {
            var round = Enumerable.Range(i, parallel).Select(async n =>
            {
                var (body, key) = next(n);
                var (status, _) = await SendAsync(attacker, body, key);
                statuses.AddOrUpdate(status, 1, (_, c) => c + 1);
            });
            await Task.WhenAll(round);
        }
    }

    private string Offer(string subject, string metadata = "") =>
        $$$"""{"targets":[{"adapter":"{{{System.Email.Name}}}","params":{"to":"x@example.test","subject":"{{{subject}}}","text":"t"}}],"metadata":{{{{metadata}}}}}""";

    /// <summary>Raw HTTP on purpose: the exact JSON text, with characters PostgreSQL refuses (Alba's RawJson sets Content-Length to the text's length in characters, not bytes).</summary>
    private async Task<(int, string)> SendAsync(Tenant tenant, string json, string? idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/offers") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tenant.ApiKey);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        using var response = await System.Http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
