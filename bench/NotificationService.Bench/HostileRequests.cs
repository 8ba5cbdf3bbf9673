using System.Text;

namespace NotificationService.Bench;

/// <summary>Who a hostile request may name: an attacker tenant's key, the admin key, the adapter, and the victims' ids.</summary>
public sealed record HostileTargets(int Port, IReadOnlyList<string> AttackerKeys, string AdminKey, string Adapter, IReadOnlyList<Guid> VictimIds);

/// <summary>
/// Generates hostile requests, request <c>n</c> of seed <c>s</c> always the same bytes (given the same keys and ids), so a
/// failure replays with <c>--seed s --replay n</c>. Every request is broken in at least one way a client could break it:
/// control characters, NUL, invalid UTF-8 and lone surrogates in each string field and key; integer and date edges in each
/// numeric field; malformed ids in each path parameter; broken framing (chunked, slow, wrong Content-Length); duplicate
/// keys, deep and wide JSON, huge numbers, wrong content types; NUL and raw bytes in the request line and headers.
/// </summary>
public sealed class HostileRequests(HostileTargets targets, int seed)
{
    private const string ZeroGuid = "00000000-0000-0000-0000-000000000000";
    public const string UnsupportedVersionKind = "http-version";

    /// <summary>Each route with a path parameter, and the body a well-formed request would have.</summary>
    private static readonly (string Method, string Path, string? Body)[] IdRoutes =
    [
        ("GET", "/v1/jobs/{id}", null), ("GET", "/v1/jobs/{id}/events", null), ("POST", "/v1/jobs/{id}/cancel", null),
        ("GET", "/v1/offers/{id}", null), ("PATCH", "/v1/offers/{id}", """{"metadata":{"k":"v"}}"""), ("DELETE", "/v1/offers/{id}", null),
        ("GET", "/admin/jobs/{id}", null), ("GET", "/admin/jobs/{id}/events", null), ("POST", "/admin/jobs/{id}/retry", null),
        ("GET", "/admin/services/{id}", null), ("GET", "/admin/services/{id}/history", null), ("PATCH", "/admin/services/{id}", """{"name":"renamed"}"""),
        ("POST", "/admin/services/{id}/block", null), ("POST", "/admin/services/{id}/unblock", null), ("POST", "/admin/services/{id}/keys", null),
        ("DELETE", "/admin/services/{id}/keys/{id}", null), ("GET", "/admin/services/{id}/limits", null), ("PATCH", "/admin/services/{id}/limits", """{"burst":5}"""),
        ("PATCH", "/admin/services/{id}/retention", """{"paramsDays":5}"""), ("POST", "/v1/offers/{id}/erase", null),
        ("GET", "/admin/adapters/{id}", null), ("GET", "/admin/adapters/{id}/history", null), ("PATCH", "/admin/adapters/{id}", """{"policy":{}}"""),
        ("GET", "/admin/invites/{id}", null), ("DELETE", "/admin/invites/{id}", null),
        ("POST", "/admin/adapters/{id}/block", null), ("POST", "/admin/adapters/{id}/unblock", null), ("DELETE", "/admin/adapters/{id}", null),
        ("GET", "/v1/callbacks/{id}", null), ("GET", "/v1/callbacks/{id}/deliveries", null), ("DELETE", "/v1/callbacks/{id}", null),
        ("POST", "/v1/callbacks/{id}/enable", null), ("GET", "/admin/services/{id}/callbacks", null),
        ("POST", "/admin/services/{id}/callbacks", """{"url":"https://example.test/cb","events":["finished"]}"""),
        ("DELETE", "/admin/services/{id}/callbacks/{id}", null), ("POST", "/admin/services/{id}/callbacks/{id}/enable", null),
        // Templates are addressed by key on /v1 (any text in the id's place is a key to look up) and by id on /admin.
        ("GET", "/v1/templates/{id}", null), ("GET", "/v1/templates/{id}/history", null), ("DELETE", "/v1/templates/{id}", null),
        ("PATCH", "/v1/templates/{id}", """{"variants":{"en":{"text":"{{ name }}"}}}"""),
        ("POST", "/v1/templates/{id}/preview", """{"locale":"de-AT","data":{"name":"x"}}"""),
        ("GET", "/admin/templates/{id}", null), ("DELETE", "/admin/templates/{id}", null),
        ("GET", "/admin/dead-letters/{id}", null), ("GET", "/admin/operations/{id}", null),
        // The console: its files by path, and its session, which reads its id from the cookie (see IdInPath).
        ("GET", "/console/{id}", null), ("GET", "/console/pages/{id}", null), ("GET", "/console/session", null), ("DELETE", "/console/session", null),
    ];

    /// <summary>Ids no stored thing has, in path form (percent-encoded where a URL needs it, raw bytes where the socket carries them).</summary>
    private static readonly byte[][] BadIds =
    [
        .. new[]
        {
            ZeroGuid, "", "%00", "a%00", "0", "-1", "2147483648", "1e400", "ffffffff-ffff-ffff-ffff-ffffffffffff", "{" + ZeroGuid + "}",
            "(" + ZeroGuid + ")", ZeroGuid + "0", ZeroGuid[..35], ZeroGuid.Replace("-", ""), "%7B" + ZeroGuid + "%7D", "%ff%fe", "%c0%80",
            "%ed%a0%80", "%2e%2e", "..", "%2f", "%20", "null", "undefined", string.Concat(Enumerable.Repeat(ZeroGuid, 60)), new string('9', 2000),
        }.Select(Encoding.ASCII.GetBytes),
        [0x00], [(byte)'a', 0x00, (byte)'b'], [0xff, 0xfe], [0x01], [0x7f], [0xed, 0xa0, 0x80],
    ];

    /// <summary>Integer and number edges, as JSON numbers or query values.</summary>
    private static readonly string[] Numbers =
    [
        "0", "-1", "-0", "1", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296", "21474837", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "1e400", "-1e400", "1e-400", "1.5", "0.0000001", "1.7976931348623157e308",
        new string('9', 400), "-" + new string('9', 400), "01", "+1", "0x10", "NaN", "Infinity",
    ];

    /// <summary>Dates at and past the edges of what a DateTimeOffset and PostgreSQL hold, as JSON values.</summary>
    private static readonly string[] Dates =
    [
        "\"0001-01-01T00:00:00Z\"", "\"0001-01-01T00:00:00+14:00\"", "\"9999-12-31T23:59:59.9999999Z\"", "\"9999-12-31T23:59:59-14:00\"",
        "\"10000-01-01T00:00:00Z\"", "\"2026-02-30T00:00:00Z\"", "\"2026-13-01T00:00:00Z\"", "\"\"", "\"\\u0000\"", "\"2030-01-01T00:00:00\\u0000Z\"",
        "\"1970-01-01T00:00:00Z\"", "\"-2026-01-01T00:00:00Z\"", "\"2030-01-01T25:00:00Z\"", "\"2030-01-01\"", "\"yesterday\"", "true", "{}", "[]",
    ];

    /// <summary>What goes inside a JSON string: JSON escapes of control characters and surrogates, and raw bytes JSON forbids.</summary>
    private static readonly byte[][] StringPoison =
    [
        .. new[]
        {
            "\\u0000", "a\\u0000b", "\\u0001\\u001f", "\\u007f", "\\ud800", "\\udfff", "\\ud800x", "x\\udc00", "\\udc00\\ud800",
            "\\u0000\\ud800", "\\r\\n\\t\\b\\f", "\\u2028\\u2029", "\\ufeff", "\\uffff", "\\ufffe", "\\u00", "\\x00", "\\",
        }.Select(Encoding.ASCII.GetBytes),
        [0x00], [(byte)'a', 0x00, (byte)'b'], [0x01, 0x1f], [0x0a], [0x09], [0x7f], [0xff, 0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80],
        [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80],
    ];

    private static readonly string[] ContentTypes =
    [
        "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/json; charset=utf-16",
        "application/json; charset=latin1", "", "*/*", "application/*", ";;;", "application/json\u0001", "application/json, text/plain",
    ];

    /// <summary>Request <paramref name="n"/>: the same bytes for the same seed and targets.</summary>
    public RawRequest Generate(int n)
    {
        var random = new Random(unchecked(seed * 1_000_003 + n));
        var key = targets.AttackerKeys[n % targets.AttackerKeys.Count];
        return random.Next(100) switch
        {
            < 28 => OfferWithPoison(random, key),
            < 42 => IdInPath(random, key),
            < 50 => ListQuery(random, key),
            < 56 => AdminBody(random),
            < 63 => Framing(random, key),
            < 66 => Slow(random, key),
            < 72 => Structure(random, key),
            < 78 => WrongContentType(random, key),
            < 89 => HeaderAbuse(random, key),
            < 90 => UnsupportedVersion(random, key),
            _ => OfferPatch(random, key),
        };
    }

    // ---- bodies

    /// <summary>A JSON string literal (quotes included) with one poison inside, sometimes in the middle of ordinary text.</summary>
    private static byte[] PoisonString(Random random)
    {
        // A NUL, escaped or raw, one time in four: the commonest real-world poison, and the one seen to break other tenants' requests.
        byte[] poison = random.Next(4) switch
        {
            0 => random.Next(3) == 0 ? [0x00] : StringPoison[random.Next(2)], // raw, "\u0000" or "a\u0000b"
            _ => StringPoison[random.Next(StringPoison.Length)],
        };
        return [(byte)'"', .. random.Next(2) == 0 ? "ok "u8.ToArray() : [], .. poison, .. random.Next(2) == 0 ? " end"u8.ToArray() : [], (byte)'"'];
    }

    private static byte[] PoisonNumber(Random random) => Encoding.ASCII.GetBytes(Numbers[random.Next(Numbers.Length)]);

    private static byte[] Concat(params object[] parts) =>
        parts.SelectMany(p => p switch { byte[] b => b, string s => Encoding.UTF8.GetBytes(s), _ => throw new ArgumentException(p.GetType().Name) }).ToArray();

    /// <summary>A well-formed offer with exactly one field, key or value replaced by poison: string fields get poisoned strings,
    /// numeric and date fields get edges, and every key (params, payload, metadata) gets a poisoned name.</summary>
    private RawRequest OfferWithPoison(Random random, string key)
    {
        var adapter = $"\"{targets.Adapter}\"";
        object Str() => PoisonString(random);
        byte[] body = random.Next(14) switch
        {
            0 => Concat("""{"targets":[{"adapter":""", Str(), ""","params":{"payload":{"n":1}}}]}"""),
            1 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"text":""", Str(), "}}}]}"),
            2 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{""", Str(), ":1}}}]}"),
            3 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{""", Str(), """:{"n":1}}}]}"""),
            4 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}}}],"metadata":{"k":""", Str(), "}}"),
            5 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}}}],"metadata":{""", Str(), """:"v"}}"""),
            6 => Concat("""{""", Str(), """:[{"adapter":""", adapter, ""","params":{"payload":{"n":1}}}]}"""),
            7 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}}}],"expireAt":""", random.Next(2) == 0 ? PoisonNumber(random) : Dates[random.Next(Dates.Length)], "}"),
            8 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}}}],"sendAt":""", random.Next(2) == 0 ? PoisonNumber(random) : Dates[random.Next(Dates.Length)], "}"),
            9 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":""", PoisonNumber(random), "}}}]}"),
            10 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":""", random.Next(2) == 0 ? PoisonNumber(random) : Str(), "}}]}"),
            // Fallback steps (README "Fallback chains"): a poisoned step adapter, and a poisoned timer with a step no adapter serves.
            11 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}},"fallback":[{"adapter":""", Str(), ""","params":{"payload":{"n":1}}}]}]}"""),
            12 => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}},"fallback":[{"adapter":"no-such-adapter","params":{}}],"fallbackAfterSeconds":""", PoisonNumber(random), "}]}"),
            _ => Concat("""{"targets":[{"adapter":""", adapter, ""","params":{"payload":{"n":1}}}],"metadata":{"k":""", PoisonNumber(random), "}}"),
        };
        var headers = new List<string>();
        // An Idempotency-Key in the header carries the same poison the socket can carry there (no NUL, CR or LF: see HeaderAbuse).
        if (random.Next(4) == 0) headers.Add($"Idempotency-Key: attack-{random.Next()}");
        return Request($"offer-poison", "POST", "/v1/offers", key, body, "application/json", headers);
    }

    /// <summary>PATCH /v1/offers/{id} of a victim's offer or a missing one, with a poisoned or edge field.</summary>
    private RawRequest OfferPatch(Random random, string key)
    {
        var id = random.Next(3) == 0 ? ZeroGuid : targets.VictimIds[random.Next(targets.VictimIds.Count)].ToString();
        byte[] body = random.Next(5) switch
        {
            0 => Concat("""{"metadata":{"k":""", PoisonString(random), "}}"),
            1 => Concat("""{"metadata":{""", PoisonString(random), """:"v"}}"""),
            2 => Concat("""{"sendAt":""", random.Next(2) == 0 ? PoisonNumber(random) : Dates[random.Next(Dates.Length)], "}"),
            3 => Concat("""{"expireAt":""", random.Next(2) == 0 ? PoisonNumber(random) : Dates[random.Next(Dates.Length)], "}"),
            _ => Concat("""{"jobs":[{"id":""", random.Next(2) == 0 ? PoisonString(random) : $"\"{id}\"", ""","params":{"payload":{"t":""", PoisonString(random), "}}}]}"),
        };
        return Request("offer-patch", "PATCH", $"/v1/offers/{id}", key, body, "application/json");
    }

    /// <summary>Every route with a path parameter, with an id that names nothing: empty, zero, malformed, overlong, NUL, raw bytes;
    /// the victims' own ids from an attacker's key. Admin routes are sent with the admin key, so the id is what gets checked;
    /// the console's session routes get the id as their cookie.</summary>
    private RawRequest IdInPath(Random random, string key)
    {
        var (method, path, body) = IdRoutes[random.Next(IdRoutes.Length)];
        var admin = path.StartsWith("/admin", StringComparison.Ordinal);
        // The console's routes belong to no tenant: a victim's id there is just another id that names nothing (sign-out
        // without a session answers 204), not a cross-tenant read.
        var tenants = !admin && !path.StartsWith("/console", StringComparison.Ordinal);
        byte[] id = tenants && random.Next(4) == 0 ? Encoding.ASCII.GetBytes(targets.VictimIds[random.Next(targets.VictimIds.Count)].ToString()) : BadIds[random.Next(BadIds.Length)];
        if (!path.Contains("{id}")) // the console's session: the id it reads is the session cookie's token
            return new RawRequest("id-in-cookie", [Concat(Head(method, path, null, []), "Cookie: ns_console=", id, "\r\n\r\n")]);
        var target = Concat(path.Split("{id}").SelectMany((part, i) => i == 0 ? new object[] { part } : [id, part]).ToArray());
        return Request("id-in-path", method, target, admin ? targets.AdminKey : key, body is null ? null : Encoding.UTF8.GetBytes(body), "application/json");
    }

    /// <summary>List endpoints with edge values in every query parameter (page overflow, bad enums, dates, ids).</summary>
    private RawRequest ListQuery(Random random, string key)
    {
        string Edge() => random.Next(5) switch
        {
            0 => "", 1 => "%00", 2 => "%ff%fe", 3 => Uri.EscapeDataString(Dates[random.Next(Dates.Length)].Trim('"')),
            _ => Uri.EscapeDataString(Numbers[random.Next(Numbers.Length)]),
        };
        var (path, auth, names) = random.Next(6) switch
        {
            0 => ("/v1/offers", key, new[] { "page", "pageSize", "metadata.k", "metadata.", "metadata.%00" }),
            1 => ("/v1/jobs", key, new[] { "state", "adapter", "offerId", "createdFrom", "createdTo", "limit", "cursor", "metadata.k", "metadata." }),
            4 => ("/v1/offers", key, new[] { "page", "pageSize" }),
            2 => ("/admin/jobs", targets.AdminKey, new[] { "page", "pageSize", "state", "adapter", "service", "offerId", "from", "to", "after", "metadata.k", "metadata." }),
            3 when random.Next(2) == 0 => (random.Next(2) == 0 ? "/admin/dead-letters" : "/admin/dead-letters/groups", targets.AdminKey,
                new[] { "page", "pageSize", "adapter", "messageType", "exceptionType", "failure", "from", "to", "after" }),
            3 => (random.Next(2) == 0 ? "/admin/operations" : "/admin/erasures", targets.AdminKey, new[] { "page", "pageSize", "kind", "after" }),
            _ => (random.Next(3) switch { 0 => "/admin/services", 1 => "/admin/adapters", _ => "/admin/invites" }, targets.AdminKey,
                new[] { "limit", "after", "page", "pageSize" }),
        };
        var query = string.Join("&", names.Where(_ => random.Next(3) > 0).Select(name => $"{name}={Edge()}").Append($"page={Edge()}"));
        return Request("list-query", "GET", $"{path}?{query}", auth, null, null);
    }

    /// <summary>Admin, registration, console sign-in and callback-registration bodies with a poisoned string in each field.</summary>
    private RawRequest AdminBody(Random random)
    {
        object Str() => PoisonString(random);
        var (path, body) = random.Next(10) switch
        {
            // The console's sign-in (no key: the body holds it); a run of wrong keys meets its throttle (429), a 4xx too.
            9 => ("/console/session", Concat("""{"key":""", Str(), "}")),
            // Dry runs: a hostile filter that happened to match must not replay, discard or re-drive anything.
            6 => ("/admin/dead-letters/replay", Concat("""{"exceptionType":""", Str(), ""","dryRun":true}""")),
            7 => ("/admin/dead-letters/discard", Concat("""{"failure":""", Str(), ""","from":""", Dates[random.Next(Dates.Length)], ""","dryRun":true}""")),
            8 => ("/admin/jobs/redrive", Concat("""{"adapter":""", Str(), ""","from":""", Dates[random.Next(Dates.Length)], ""","dryRun":true}""")),
            0 => ("/admin/services", Concat("""{"name":""", Str(), "}")),
            1 => ("/admin/adapters", Concat("""{"name":""", Str(), ""","type":"webhook","config":{"url":"http://127.0.0.1:9/x","secret":"0123456789abcdef0"}}""")),
            2 => ("/admin/adapters", Concat("""{"name":"hostile-adapter","type":""", Str(), ""","config":{"url":""", Str(), ""","secret":""", Str(), "}}")),
            3 => ("/admin/invites", Concat("""{"note":""", Str(), ""","expiresInHours":""", PoisonNumber(random), "}")),
            4 => ("/admin/erasures", Concat("""{"recipient":""", Str(), "}")),
            5 when random.Next(2) == 0 => ("/v1/callbacks", Concat("""{"url":""", Str(), ""","events":[""", Str(), "]}")),
            _ => ("/v1/register", Concat("""{"name":""", Str(), ""","inviteCode":""", Str(), "}")),
        };
        var key = path.StartsWith("/admin", StringComparison.Ordinal) ? targets.AdminKey
            : path == "/v1/callbacks" ? targets.AttackerKeys[random.Next(targets.AttackerKeys.Count)] : null;
        return Request("admin-body", "POST", path, key, body, "application/json");
    }

    /// <summary>
    /// The body of requests whose framing, headers or content type are the attack: well-formed JSON that names no adapter
    /// (a 422 when it gets that far), so a 5xx there is the framing's, not a poisoned field's, and nothing gets stored.
    /// </summary>
    private static byte[] PlainOffer(Random random) =>
        Concat("{\"targets\":[{\"adapter\":\"no-such-adapter-", random.Next(1000).ToString(), "\",\"params\":{\"payload\":{\"n\":1}}}]}");

    /// <summary>Chunked bodies (over 1 MiB, malformed chunk sizes, no last chunk) and Content-Length that lies.</summary>
    private RawRequest Framing(Random random, string key)
    {
        var offer = PlainOffer(random);
        var head = Head("POST", "/v1/offers", key, ["Content-Type: application/json"]);
        byte[] Chunked(byte[] body, int chunk) =>
            Concat([.. body.Chunk(chunk).Select(c => Concat($"{c.Length:x}\r\n", c, "\r\n")), "0\r\n\r\n"u8.ToArray()]);
        var big = Concat("""{"targets":[{"adapter":"x","params":{"payload":{"t":" """, new string('a', 1_100_000 + random.Next(200_000)), "\"}}}]}");
        return random.Next(10) switch
        {
            0 or 1 => new RawRequest("chunked-over-1MiB", [Concat(head, "Transfer-Encoding: chunked\r\n\r\n"), Chunked(big, 1 << random.Next(10, 17))]),
            2 => new RawRequest("chunked", [Concat(head, "Transfer-Encoding: chunked\r\n\r\n", Chunked(offer, 1 + random.Next(16)))]),
            3 => new RawRequest("chunked-bad-size", [Concat(head, "Transfer-Encoding: chunked\r\n\r\n", random.Next(3) switch
            {
                0 => "zz\r\n", 1 => "ffffffffffffffffffff\r\n", _ => "-1\r\n",
            }, offer, "\r\n0\r\n\r\n")]),
            4 => new RawRequest("chunked-no-end", [Concat(head, "Transfer-Encoding: chunked\r\n\r\n", $"{offer.Length + 50:x}\r\n", offer)], HalfClose: true),
            5 => new RawRequest("length-short", [Concat(head, $"Content-Length: {offer.Length / 2}\r\n\r\n", offer)]),
            6 => new RawRequest("length-long", [Concat(head, $"Content-Length: {offer.Length + 100}\r\n\r\n", offer)], HalfClose: true),
            7 => new RawRequest("length-and-chunked", [Concat(head, $"Content-Length: {offer.Length}\r\nTransfer-Encoding: chunked\r\n\r\n", Chunked(offer, 64))]),
            8 => new RawRequest("length-invalid", [Concat(head, $"Content-Length: {new[] { "-1", "abc", "1e3", "99999999999999999999", "+5", " ", "1,2" }[random.Next(7)]}\r\n\r\n", offer)], HalfClose: true),
            _ => new RawRequest("length-twice", [Concat(head, $"Content-Length: {offer.Length}\r\nContent-Length: {offer.Length + 1}\r\n\r\n", offer)]),
        };
    }

    /// <summary>A body or a header trickled in 15 pieces (bounded: under 2.5 s per request).</summary>
    private RawRequest Slow(Random random, string key)
    {
        var offer = PlainOffer(random);
        var whole = random.Next(2) == 0
            ? Concat(Head("POST", "/v1/offers", key, ["Content-Type: application/json", $"Content-Length: {offer.Length}"]), "\r\n", offer)
            : Concat(Head("GET", "/v1/offers?page=1", key, []), "\r\n");
        var pieces = whole.Chunk(Math.Max(1, whole.Length / 15)).ToArray();
        return new RawRequest("slow", pieces, TimeSpan.FromMilliseconds(80 + random.Next(80)));
    }

    /// <summary>Duplicate keys, 10k-deep nesting, 100k-key objects, where a body has an object.</summary>
    private RawRequest Structure(Random random, string key)
    {
        var adapter = targets.Adapter;
        string Deep(int depth) => random.Next(2) == 0 ? new string('[', depth) + new string(']', depth) : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
        string Wide(int keys) => "{" + string.Join(",", Enumerable.Range(0, keys).Select(i => $"\"{i:x}\":1")) + "}";
        string Target(string @params, string? adapterField = null) => "{\"adapter\":\"" + adapter + "\"," + (adapterField ?? "") + "\"params\":" + @params + "}";
        string Offer(string target, string rest = "") => "{\"targets\":[" + target + "]" + rest + "}";
        const string payload = "{\"payload\":{\"n\":1}}";
        var body = random.Next(8) switch
        {
            0 => Offer(Target(payload), ",\"targets\":[{\"adapter\":\"x\",\"params\":{}}]"),
            1 => Offer(Target(payload, "\"adapter\":\"other\",")),
            2 => Offer(Target("{\"payload\":{\"n\":1},\"payload\":{\"n\":2}}")),
            3 => Offer(Target(payload), ",\"metadata\":{\"k\":\"a\",\"k\":\"b\"}"),
            4 => Offer(Target("{\"payload\":{\"deep\":" + Deep(10_000) + "}}")),
            5 => random.Next(2) == 0 ? Deep(10_000) : Offer(Target(payload), ",\"metadata\":" + Deep(10_000)),
            6 => Offer(Target("{\"payload\":" + Wide(100_000) + "}")),
            _ => Offer(Target(payload), ",\"metadata\":" + Wide(100_000).Replace(":1", ":\"v\"")),
        };
        return Request("json-structure", "POST", "/v1/offers", key, Encoding.UTF8.GetBytes(body), "application/json");
    }

    private RawRequest WrongContentType(Random random, string key) =>
        Request("content-type", random.Next(3) == 0 ? "PATCH" : "POST", random.Next(3) == 0 ? $"/v1/offers/{ZeroGuid}" : "/v1/offers", key,
            PlainOffer(random), ContentTypes[random.Next(ContentTypes.Length)]);

    /// <summary>NUL, control characters and raw bytes in the request line and headers; header and line limits; odd auth.</summary>
    private RawRequest HeaderAbuse(Random random, string key)
    {
        var offer = PlainOffer(random);
        byte[] Poison() => random.Next(6) switch { 0 => [0x00], 1 => [0x01], 2 => [0x7f], 3 => [0xff, 0xfe], 4 => [0x0b], _ => [0xc3, 0xa9] };
        var host = $"Host: 127.0.0.1:{targets.Port}\r\n";
        var length = $"Content-Type: application/json\r\nContent-Length: {offer.Length}\r\n";
        byte[] wire = random.Next(15) switch
        {
            0 => Concat("POST /v1/offers", Poison(), " HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\n", length, "Connection: close\r\n\r\n", offer),
            1 => Concat("GET /v1/offers?page=1", Poison(), "&pageSize=", Poison(), " HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
            2 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}", Poison(), "\r\n", length, "Connection: close\r\n\r\n", offer),
            3 => Concat("POST /v1/offers HTTP/1.1\r\n", host, "Authorization: Bearer ", Poison(), key, "\r\n", length, "Connection: close\r\n\r\n", offer),
            4 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nIdempotency-Key: k", Poison(), "k\r\n", length, "Connection: close\r\n\r\n", offer),
            5 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nIdempotency-Key: {new string('k', 1000 * (1 + random.Next(8)))}\r\n", length, "Connection: close\r\n\r\n", offer),
            6 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nX-Big: {new string('x', 40_000)}\r\n", length, "Connection: close\r\n\r\n", offer),
            7 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\n", string.Concat(Enumerable.Range(0, 150).Select(i => $"X-H{i}: v\r\n")), length, "Connection: close\r\n\r\n", offer),
            8 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nAuthorization: Bearer nss_other\r\n", length, "Connection: close\r\n\r\n", offer),
            9 => Concat("POST /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nBad", Poison(), "Name: v\r\n", length, "Connection: close\r\n\r\n", offer),
            10 => Concat(new[] { "PROPFIND", "get", "POST\u0000", "TRACE", "CONNECT", new string('P', 300) }[random.Next(6)], " /v1/offers HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\n", length, "Connection: close\r\n\r\n", offer),
            11 => Concat(new[] { "POST /v1/offers HTTP/1.1 extra", "POST http://evil.example/v1/offers HTTP/1.1", "POST  /v1/offers HTTP/1.1", "POST /v1/offers?%00 HTTP/1.1", "POST * HTTP/1.1", "POST /v1/../v1/offers HTTP/1.1" }[random.Next(6)], "\r\n", host, $"Authorization: Bearer {key}\r\n", length, "Connection: close\r\n\r\n", offer),
            12 => Concat("POST /v1/offers HTTP/1.1\r\n", random.Next(2) == 0 ? "" : "Host: \u0000\r\n", $"Authorization: Bearer {key}\r\n", length, "Connection: close\r\n\r\n", offer),
            13 => Concat($"GET /v1/offers/{ZeroGuid}?x={new string('q', 20_000)} HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
            // A JSON body where the route takes none.
            _ => Concat(new[] { "GET /v1/offers", "GET /v1/adapters", $"DELETE /v1/offers/{ZeroGuid}", $"POST /v1/jobs/{ZeroGuid}/cancel", $"GET /v1/jobs/{ZeroGuid}" }[random.Next(5)],
                " HTTP/1.1\r\n", host, $"Authorization: Bearer {key}\r\n", length, "Connection: close\r\n\r\n", offer),
        };
        return new RawRequest("header-abuse", [wire]);
    }

    /// <summary>A protocol version the server does not speak: 505 is the one 5xx that is the right answer.</summary>
    private RawRequest UnsupportedVersion(Random random, string key)
    {
        var offer = PlainOffer(random);
        return new RawRequest(UnsupportedVersionKind, [Concat($"POST /v1/offers{new[] { " HTTP/9.9", " HTTP/2.0", " HTTP/1.2", "" }[random.Next(4)]}\r\nHost: 127.0.0.1:{targets.Port}\r\n",
            $"Authorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {offer.Length}\r\nConnection: close\r\n\r\n", offer)]);
    }

    // ---- wire format

    private byte[] Head(object method, object target, string? auth, IEnumerable<string> headers) =>
        Concat([method, " ", target, " HTTP/1.1\r\n", $"Host: 127.0.0.1:{targets.Port}\r\n", auth is null ? "" : $"Authorization: Bearer {auth}\r\n",
            "Connection: close\r\n", .. headers.Select(h => h + "\r\n")]);

    private RawRequest Request(string kind, string method, object target, string? auth, byte[]? body, string? contentType, IEnumerable<string>? headers = null)
    {
        var lines = (headers ?? []).ToList();
        if (body is not null)
        {
            if (contentType is not null) lines.Add($"Content-Type: {contentType}");
            lines.Add($"Content-Length: {body.Length}");
        }
        return new RawRequest(kind, [Concat(Head(method, target, auth, lines), "\r\n", body ?? [])]);
    }
}
