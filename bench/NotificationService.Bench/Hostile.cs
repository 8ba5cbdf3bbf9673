using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;

namespace NotificationService.Bench;

/// <summary>
/// `./ns hostile`: the real core process (Kestrel) takes generated hostile requests over raw sockets from attacker tenants
/// while victim tenants post and read valid offers through HttpClient. Fails if any request got a 5xx, any valid request
/// did not get its 2xx, any accepted valid job did not finish, an attacker reached a victim's data, or an attacker's
/// refused requests left anything stored.
/// </summary>
public static partial class Hostile
{
    private sealed record Tenant(Guid Id, string Key);

    public static async Task<int> RunAsync(string root, string postgres, string rabbitMq, bool quick, int seed, int? replay)
    {
        var window = TimeSpan.FromSeconds(quick ? 25 : 120);
        var maxAttacks = quick ? 1200 : 8000;
        const int attackConnections = 4; // bounded: the machine's cores are shared with the core and worker under test
        Console.WriteLine($"== Hostile pass, seed {seed}: {(replay is { } r ? $"replaying request #{r}" : $"up to {maxAttacks} hostile requests over raw sockets in {window.TotalSeconds:0} s beside valid traffic")}");

        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 1);
        var port = stack.CoreUrls[0].Port;
        var adapter = await stack.CreateAdapterAsync("hostile-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "hostile-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", adapter.Key, parallelism: 4);
        async Task<Tenant> TenantAsync(string name)
        {
            var created = await stack.AdminAsync("/admin/services", new { name });
            return new Tenant(created.GetProperty("id").GetGuid(), created.GetProperty("apiKey").GetString()!);
        }
        var victims = new List<Tenant>();
        for (var i = 0; i < 3; i++) victims.Add(await TenantAsync($"victim-{i}"));
        var attackers = new List<Tenant>();
        for (var i = 0; i < 3; i++) attackers.Add(await TenantAsync($"attacker-{i}"));

        var valid = new ValidTraffic(stack, adapter.Name);
        // Ids the attackers name: each victim's first offer and job, created before the attack so a replay names the same kind of thing.
        var victimIds = new List<Guid>();
        foreach (var victim in victims)
        {
            var (offer, jobs) = await valid.PostOfferAsync(victim, 0, 0) ?? throw new InvalidOperationException($"a valid offer was refused before the attack: {string.Join("; ", valid.Failures)}");
            victimIds.Add(offer);
            victimIds.AddRange(jobs);
        }
        var generator = new HostileRequests(new HostileTargets(port, attackers.Select(a => a.Key).ToList(), Stack.AdminKey, adapter.Name, victimIds), seed);

        if (replay is { } only)
        {
            var request = generator.Generate(only);
            var response = await RawHttp.SendAsync(port, request, TimeSpan.FromSeconds(20));
            Console.WriteLine($"#{only} {request.Kind}\n>>> {request.Show(4000)}\n<<< {Shorten(response.Text, 4000)}");
            await Task.Delay(500); // the core's log line comes asynchronously
            // The exception and the top of its stack, as the core logged it.
            var log = stack.Cores[0].Log.Split('\n');
            foreach (var at in Enumerable.Range(0, log.Length).Where(i => ExceptionLine().IsMatch(log[i].Trim())).Take(3))
                foreach (var line in log.Skip(at).Take(15)) Console.WriteLine($"core: {Shorten(line.TrimEnd(), 600)}");
            return response.Status >= 500 ? 1 : 0;
        }

        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var victimLoops = victims.Select((victim, i) => valid.RunAsync(victim, i + 1, () => Stopwatch.GetTimestamp() < deadline)).ToArray();

        var classes = new ConcurrentDictionary<(string Kind, string Class), int>();
        var serverErrors = new ConcurrentBag<string>();
        var crossTenant = new ConcurrentBag<string>();
        var offersAccepted = new int[attackers.Count];
        var next = -1;
        // The request as a person reads it: the lines every request has are left out, keys are named by their tenant.
        string Readable(string shown) => attackers.Select((a, i) => (a.Key, Name: $"<attacker-{i} key>"))
            .Aggregate(shown.Replace($"Host: 127.0.0.1:{port}\\r\\n", "").Replace("Connection: close\\r\\n", ""), (text, a) => text.Replace(a.Key, a.Name));
        var noResponse = new ConcurrentBag<string>();
        var accepted = new ConcurrentBag<string>();
        var victimIdText = victimIds.Select(id => Encoding.ASCII.GetBytes(id.ToString())).ToArray();
        async Task AttackAsync()
        {
            for (var n = Interlocked.Increment(ref next); n < maxAttacks && Stopwatch.GetTimestamp() < deadline; n = Interlocked.Increment(ref next))
            {
                var request = generator.Generate(n);
                var response = await RawHttp.SendAsync(port, request, TimeSpan.FromSeconds(15));
                classes.AddOrUpdate((request.Kind, response.StatusClass), 1, (_, c) => c + 1);
                var line = $"#{n} {request.Kind}: {Shorten(Readable(request.Show(3000)), 400)}\n      -> {Shorten(response.Summary(), 300)}";
                if (response.Status >= 500 && !(response.Status == 505 && request.Kind == HostileRequests.UnsupportedVersionKind)) serverErrors.Add(line);
                if (response.Status == 0 && !request.HalfClose) noResponse.Add(line);
                if (response.Status is >= 200 and < 300)
                {
                    accepted.Add(line);
                    var bytes = request.Segments.SelectMany(s => s).ToArray();
                    if (victimIdText.Any(id => bytes.AsSpan().IndexOf(id) >= 0)) crossTenant.Add(line);
                    if (response.Status == 202 && response.Text.Contains("\"jobs\":[", StringComparison.Ordinal)) Interlocked.Increment(ref offersAccepted[n % attackers.Count]);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, attackConnections).Select(_ => Task.Run(AttackAsync)));
        var sent = classes.Values.Sum();
        var attackSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await Task.WhenAll(victimLoops);

        // Every valid job accepted during the attack must finish (delivered to the receiver).
        var victimJobs = valid.Jobs.Keys.ToArray();
        var states = new Dictionary<Guid, string>();
        var finishDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(quick ? 60 : 180);
        while (DateTime.UtcNow < finishDeadline)
        {
            states = await JobStatesAsync(postgres, victimJobs);
            if (victimJobs.All(id => states.GetValueOrDefault(id) == "Finished")) break;
            await Task.Delay(500);
        }
        var unfinished = victimJobs.Where(id => states.GetValueOrDefault(id) != "Finished").ToList();
        var undelivered = victimJobs.Count(id => !receivers.Count.ContainsKey(id));

        // What the attackers left stored: exactly the offers they were told were accepted (none, if all were refused).
        var stored = await StoredPerServiceAsync(postgres);
        var storeMismatch = attackers.Select((a, i) => (Index: i, Accepted: offersAccepted[i], Stored: stored.GetValueOrDefault(a.Id)))
            .Where(a => a.Accepted != a.Stored.Offers || (a.Accepted == 0 && a.Stored.Jobs != 0)).ToList();
        var coreAlive = !stack.Cores[0].HasExited;

        Console.WriteLine();
        Console.WriteLine($"| Hostile request kind | {string.Join(" | ", StatusClasses)} |");
        Console.WriteLine($"| --- |{string.Concat(StatusClasses.Select(_ => " --- |"))}");
        foreach (var kind in classes.Keys.Select(k => k.Kind).Distinct().Order())
            Console.WriteLine($"| {kind} | {string.Join(" | ", StatusClasses.Select(c => classes.GetValueOrDefault((kind, c))))} |");
        Console.WriteLine($"| all {sent} ({sent / attackSeconds:0}/s) | {string.Join(" | ", StatusClasses.Select(c => classes.Where(k => k.Key.Class == c).Sum(k => k.Value)))} |");
        Console.WriteLine();
        Console.WriteLine("| Check | Result |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| hostile requests answered 5xx (but 505 to an HTTP version other than 1.x) | {serverErrors.Count} |");
        Console.WriteLine($"| hostile requests naming a victim's id answered 2xx | {crossTenant.Count} |");
        Console.WriteLine($"| valid requests (victims) | {valid.Requests}: {string.Join(", ", valid.Classes.OrderBy(c => c.Key).Select(c => $"{c.Value}x {c.Key}"))} |");
        Console.WriteLine($"| valid requests without their expected 2xx | {valid.Failed} |");
        Console.WriteLine($"| valid jobs accepted / not Finished within {(quick ? 60 : 180)} s / not at the receiver | {victimJobs.Length} / {unfinished.Count} / {undelivered} |");
        Console.WriteLine($"| attacker offers accepted (202) / stored, per attacker | {string.Join("; ", attackers.Select((a, i) => $"{offersAccepted[i]} / {stored.GetValueOrDefault(a.Id).Offers} offers, {stored.GetValueOrDefault(a.Id).Jobs} jobs"))} |");
        Console.WriteLine($"| core process still running | {(coreAlive ? "yes" : "NO")} |");

        var ok = serverErrors.IsEmpty && crossTenant.IsEmpty && valid.Failed == 0 && unfinished.Count == 0 && undelivered == 0 && storeMismatch.Count == 0 && coreAlive;
        Console.WriteLine(ok ? "\nHOSTILE PASSED: no 5xx, every valid request and job succeeded, nothing refused was stored."
                             : $"\nHOSTILE FAILED (replay one request with: hostile --seed {seed} --replay N)");
        // The first few 5xx of each kind, so one kind's many failures do not hide another's.
        var serverErrorSample = serverErrors.GroupBy(Kind).OrderBy(g => g.Key).SelectMany(g => g.OrderBy(Order).Take(4)).ToList();
        if (serverErrorSample.Count > 0) Console.WriteLine($"-- 5xx answers ({serverErrors.Count}; up to 4 of each kind):");
        foreach (var line in serverErrorSample) Console.WriteLine($"   {line}");
        foreach (var (title, lines, total) in new[] { ("cross-tenant 2xx", crossTenant.OrderBy(Order), crossTenant.Count), ("failed valid requests", valid.Failures.AsEnumerable(), valid.Failed) })
        {
            var list = lines.ToList();
            if (list.Count == 0) continue;
            Console.WriteLine($"-- {title} ({total}{(total > 25 ? ", first 25" : "")}):");
            foreach (var line in list.Take(25)) Console.WriteLine($"   {line}");
        }
        if (!accepted.IsEmpty)
        {
            // Not a failure by itself (a hostile request may still be a valid one), but what was let in is worth a look.
            Console.WriteLine($"-- answered 2xx ({accepted.Count}; up to 2 of each kind):");
            foreach (var line in accepted.GroupBy(Kind).OrderBy(g => g.Key).SelectMany(g => g.OrderBy(Order).Take(2))) Console.WriteLine($"   {line}");
        }
        if (!noResponse.IsEmpty)
        {
            // Not a failure by itself (the server may close a connection it refuses before the answer is read), but worth a look.
            Console.WriteLine($"-- closed without an answer although the client sent everything ({noResponse.Count}, first 10):");
            foreach (var line in noResponse.OrderBy(Order).Take(10)) Console.WriteLine($"   {line}");
        }
        if (!ok)
        {
            // What the 500s were, from the core's log: the first line of each distinct exception, most frequent first.
            // JsonExceptions are left out: the framework answers them with 400 (whether they belong in the log is another matter).
            var causes = stack.Cores[0].Log.Split('\n').Select(l => l.Trim()).Where(l => ExceptionLine().IsMatch(l) && !l.StartsWith("System.Text.Json.JsonException", StringComparison.Ordinal))
                .GroupBy(l => Shorten(l, 220)).OrderByDescending(g => g.Count()).Take(20).ToList();
            if (causes.Count > 0) Console.WriteLine("-- exceptions in the core's log (count, first line):");
            foreach (var cause in causes) Console.WriteLine($"   {cause.Count(),4}  {cause.Key}");
        }
        foreach (var id in unfinished.Take(10)) Console.WriteLine($"   valid job {id}: {states.GetValueOrDefault(id) ?? "no document"}");
        foreach (var m in storeMismatch) Console.WriteLine($"   attacker-{m.Index}: {m.Accepted} offers accepted, {m.Stored.Offers} offers and {m.Stored.Jobs} jobs stored");
        if (!coreAlive) Console.WriteLine($"   core log:\n{Shorten(stack.Cores[0].Log, 3000)}");
        return ok ? 0 : 1;
    }

    [GeneratedRegex(@"^[\w.]+(Exception|Error): ")]
    private static partial Regex ExceptionLine();

    private static readonly string[] StatusClasses = ["2xx", "3xx", "4xx", "5xx", "no response"];

    private static int Order(string line) => int.Parse(line.AsSpan(1, line.IndexOf(' ') - 1));

    private static string Kind(string line) => line[(line.IndexOf(' ') + 1)..line.IndexOf(':')];

    public static string Shorten(string text, int max)
    {
        var flat = text.Replace("\r", "\\r").Replace("\n", "\\n");
        return flat.Length <= max ? flat : flat[..max] + $"... ({flat.Length} chars)";
    }

    private static async Task<Dictionary<Guid, string>> JobStatesAsync(string postgres, Guid[] ids)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id, data->>'state' FROM ns.mt_doc_job WHERE id = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = ids });
        var states = new Dictionary<Guid, string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) states[reader.GetGuid(0)] = reader.GetString(1);
        return states;
    }

    private static async Task<Dictionary<Guid, (long Offers, long Jobs)>> StoredPerServiceAsync(string postgres)
    {
        await using var connection = new NpgsqlConnection(postgres);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT s, sum(o), sum(j) FROM (
              SELECT service_id AS s, 1 AS o, 0 AS j FROM ns.mt_doc_offer
              UNION ALL SELECT (data->>'serviceId')::uuid, 0, 1 FROM ns.mt_doc_job) x GROUP BY s
            """, connection);
        var stored = new Dictionary<Guid, (long, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) stored[reader.GetGuid(0)] = (reader.GetInt64(1), reader.GetInt64(2));
        return stored;
    }

    /// <summary>What a well-behaved client does, checked at every step: post an offer, read its job, list and read offers.</summary>
    private sealed class ValidTraffic(Stack stack, string adapter)
    {
        public ConcurrentDictionary<Guid, byte> Jobs { get; } = new();
        public ConcurrentDictionary<string, int> Classes { get; } = new();
        /// <summary>The first 100 failed requests (all are counted in <see cref="Failed"/>).</summary>
        public ConcurrentQueue<string> Failures { get; } = new();
        private int _failed;
        public int Failed => _failed;

        private void Fail(string line)
        {
            if (Interlocked.Increment(ref _failed) <= 100) Failures.Enqueue(line);
        }
        private int _requests;
        public int Requests => _requests;

        public async Task RunAsync(Tenant victim, int index, Func<bool> go)
        {
            for (var n = 1; go(); n++)
            {
                if (await PostOfferAsync(victim, index, n) is not { } offer) continue;
                await ExpectAsync(victim, HttpMethod.Get, $"/v1/jobs/{offer.Jobs[0]}", 200);
                await ExpectAsync(victim, HttpMethod.Get, "/v1/offers?page=1&pageSize=20", 200);
                await ExpectAsync(victim, HttpMethod.Get, $"/v1/offers/{offer.Offer}", 200);
            }
        }

        public async Task<(Guid Offer, Guid[] Jobs)?> PostOfferAsync(Tenant victim, int index, int n)
        {
            var body = new
            {
                targets = new[] { new { adapter, @params = new { payload = new { victim = index, n, text = "h\u00e9llo \u2713 \"quoted\"" } } } },
                metadata = new Dictionary<string, string> { ["victim"] = $"v{index}", ["n"] = n.ToString() },
            };
            var idempotencyKey = n % 3 == 0 ? $"victim-{index}-{n}" : null;
            var text = await ExpectAsync(victim, HttpMethod.Post, "/v1/offers", 202, JsonContent.Create(body), idempotencyKey);
            if (text is null) return null;
            var accepted = JsonDocument.Parse(text).RootElement;
            var jobs = accepted.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetGuid()).ToArray();
            foreach (var job in jobs) Jobs.TryAdd(job, 0);
            return (accepted.GetProperty("id").GetGuid(), jobs);
        }

        /// <summary>The response body when the status was the expected one; otherwise null, and the request is on record.</summary>
        private async Task<string?> ExpectAsync(Tenant victim, HttpMethod method, string path, int expected, HttpContent? content = null, string? idempotencyKey = null)
        {
            Interlocked.Increment(ref _requests);
            using var request = new HttpRequestMessage(method, new Uri(stack.CoreUrls[0], path)) { Content = content };
            request.Headers.Authorization = new("Bearer", victim.Key);
            if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
            try
            {
                using var response = await stack.Http.SendAsync(request);
                var status = (int)response.StatusCode;
                Classes.AddOrUpdate($"{status}", 1, (_, c) => c + 1);
                var text = await response.Content.ReadAsStringAsync();
                if (status == expected) return text;
                Fail($"{method} {path} (victim key): {status} {Shorten(text, 300)}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Classes.AddOrUpdate("no response", 1, (_, c) => c + 1);
                Fail($"{method} {path} (victim key): {e.GetType().Name} {e.Message}");
            }
            return null;
        }
    }
}
