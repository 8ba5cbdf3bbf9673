using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using NotificationService.Adapters.Telegram;
using NotificationService.Adapters.Webhook;
using NotificationService.Core.Tests.Callbacks;
using NotificationService.Hosting;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace NotificationService.Core.Tests.Operations;

/// <summary>
/// What an operator sees of one job: its trace from the request to the provider call, the job counters on /metrics of
/// the core and of the worker, and one log line per outcome in the worker. Through a real webhook worker and HTTP peer.
/// </summary>
public sealed partial class when_an_operator_watches_a_job(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    private async Task<(RegisteredAdapter Adapter, WebApplication Worker)> WebhookAsync(string url, int maxAttempts = 1)
    {
        var adapter = await System.CreateAdapterAsync(UniqueName("otel"), "webhook",
            new { url, secret = "webhook-secret-0123456789", allowPrivateNetwork = true, timeoutSeconds = 1 },
            policy: new { maxAttempts, initialBackoffSeconds = 0.2, maxBackoffSeconds = 0.3 });
        return (adapter, await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey));
    }

    private async Task<Guid> OfferAsync(RegisteredAdapter adapter) =>
        (await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { n = 1 } } } } })).Jobs[0].Id;

    [Fact]
    public async Task one_trace_follows_the_job_from_the_request_through_the_broker_to_the_provider_call()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var (adapter, worker) = await WebhookAsync(receiver.BaseUrl + "/in");
        var spans = new List<Activity>();
        // The same sources and processor the hosts use when an exporter is configured; activities are process-wide, so
        // this provider sees the core (Alba) and the worker, both in this process.
        using (var tracing = Sdk.CreateTracerProviderBuilder().AddNotificationTracing().AddInMemoryExporter(spans).Build())
        {
            var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { new { adapter = adapter.Name, @params = new { payload = new { n = 1 } } } } });
            var jobId = offer.Jobs[0].Id;
            Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId)).State);

            Activity Span(Func<Activity, bool> match, string what) =>
                Find(spans, match) ?? throw new Xunit.Sdk.XunitException($"no {what} span among:\n{Describe(spans)}");
            var post = await Eventually.Until(() => Task.FromResult(Find(spans, s => s.Kind == ActivityKind.Server && s.DisplayName.Contains("/v1/offers"))),
                s => s is not null, what: "the POST /v1/offers span");
            var trace = post!.TraceId;
            Assert.Equal(offer.Id, post.GetTagItem(Telemetry.OfferIdTag)); // the request names its offer (it has many jobs)
            // The provider call ends before the worker's handler span does, which ends after the outcome is committed.
            var call = await Eventually.Until(() => Task.FromResult(Find(spans, s => s.TraceId == trace && s.Kind == ActivityKind.Client
                && s.Source.Name == "System.Net.Http" && (s.GetTagItem("url.full") as string)?.StartsWith(receiver.BaseUrl) == true)),
                s => s is not null, what: "the provider call span in the POST's trace");
            await Eventually.Until(() => Find(spans, s => s.TraceId == trace && s.Source.Name == "Wolverine" && s.Kind == ActivityKind.Consumer
                && Equals(s.GetTagItem(Telemetry.JobIdTag), jobId)) is not null, what: "the worker's receive span, tagged with the job");

            var send = Span(s => s.TraceId == trace && s.Source.Name == "Wolverine" && s.Kind == ActivityKind.Producer
                                 && s.GetTagItem("messaging.message_type") is string type && type.Contains("DeliverJob"), "Wolverine send of DeliverJob");
            var handler = Span(s => s.TraceId == trace && s.Source.Name == "Wolverine" && s.Kind != ActivityKind.Producer
                                    && Equals(s.GetTagItem(Telemetry.JobIdTag), jobId) && s.SpanId == call!.ParentSpanId, "the handler span around the call");
            Assert.Equal(jobId, call!.GetTagItem(Telemetry.JobIdTag));
            Assert.Equal(jobId, handler.GetTagItem(Telemetry.JobIdTag));
            Assert.NotEqual(default, send.SpanId);
            // The outbox's send of the job's message names the job too (Review: it carried only Wolverine's envelope tags).
            Assert.Equal(jobId, send.GetTagItem(Telemetry.JobIdTag));
            // The job's database round trips in the worker belong to the trace and name the job as well.
            Assert.True(Snapshot(spans).Any(s => s.TraceId == trace && s.Source.Name is "Npgsql" or "Marten" && Equals(s.GetTagItem(Telemetry.JobIdTag), jobId)),
                Describe(spans));
        }
        await System.StopWorkerAsync(worker);
    }

    [Fact]
    public async Task no_span_holds_a_bot_token_or_the_path_and_query_of_a_webhook_url()
    {
        await using var botApi = await HttpPeer.StartAsync();
        botApi.Reply = _ => new PeerReply(200, """{"ok":true,"result":{"message_id":9,"date":0,"chat":{"id":77,"type":"private"}}}""");
        await using var hook = await HttpPeer.StartAsync();
        const string token = "4242:otel-bot-token-must-not-leak";
        string[] secrets = [token, "otel-bot-token", "T0PATHSECRET", "B0PATHSECRET", "hook-path-secret", "query-secret"];
        var spans = new List<Activity>();
        using (var tracing = Sdk.CreateTracerProviderBuilder().AddNotificationTracing().AddInMemoryExporter(spans).Build())
        {
            // Created inside the provider's scope: the admin request and its database writes are traced too.
            var telegram = await System.CreateAdapterAsync(UniqueName("tgotel"), "telegram",
                new { botToken = token, apiBaseUrl = botApi.BaseUrl, allowPrivateNetwork = true });
            var telegramWorker = await System.StartWorkerAsync<TelegramSender, TelegramConfig>("telegram", telegram.ApiKey);
            var (webhook, webhookWorker) = await WebhookAsync(hook.BaseUrl + "/services/T0PATHSECRET/B0PATHSECRET/hook-path-secret?sig=query-secret");

            var offer = await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new object[]
                {
                    new { adapter = telegram.Name, @params = new { chatId = 77, text = "traced" } },
                    new { adapter = webhook.Name, @params = new { payload = new { n = 1 } } },
                },
            });
            foreach (var job in offer.Jobs) Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, job.Id)).State);
            Assert.Equal($"/bot{token}/sendMessage", Assert.Single(botApi.Requests).Path); // the secrets did go on the wire

            // Both provider calls were traced, and name only scheme, host and port.
            foreach (var peer in new[] { botApi.BaseUrl, hook.BaseUrl })
            {
                var call = await Eventually.Until(() => Task.FromResult(Find(spans, s => s.Kind == ActivityKind.Client && s.Source.Name == "System.Net.Http"
                    && Equals(s.GetTagItem("server.port"), new Uri(peer).Port))), s => s is not null, what: $"the client span of the call to {peer}");
                Assert.Equal(new Uri(peer).GetLeftPart(UriPartial.Authority), call!.GetTagItem("url.full"));
                Assert.Null(call.GetTagItem("url.path"));
                Assert.Null(call.GetTagItem("url.query"));
            }
            await System.StopWorkerAsync(telegramWorker);
            await System.StopWorkerAsync(webhookWorker);
        }

        // No attribute of any span or span event, from any source, nor a span's name holds a secret. The peers' own server
        // spans (children of the provider calls: they run in this process) are the providers' side, not the service's.
        var calls = Snapshot(spans).Where(s => s.Source.Name == "System.Net.Http").Select(s => s.SpanId).ToHashSet();
        var leaks = (from s in Snapshot(spans)
                     where !(s.Kind == ActivityKind.Server && calls.Contains(s.ParentSpanId))
                     from text in new[] { s.DisplayName }.Concat(s.TagObjects.Concat(s.Events.SelectMany(e => e.Tags)).Select(t => $"{t.Key}={t.Value}"))
                     where secrets.Any(secret => text.Contains(secret, StringComparison.OrdinalIgnoreCase))
                     select $"{s.Source.Name} {s.DisplayName}: {text}").ToList();
        Assert.True(Snapshot(spans).Length > 10, Describe(spans));
        Assert.Empty(leaks);
    }

    [Fact]
    public async Task the_job_counters_on_metrics_of_the_core_and_the_worker_move_when_a_job_is_delivered()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var (adapter, worker) = await WebhookAsync(receiver.BaseUrl + "/in");
        using var scraper = new HttpClient { BaseAddress = new Uri(worker.Urls.First()) };
        string[] series = [$"adapter=\"{adapter.Name}\"", $"service=\"{System.Tenant.Id}\""];
        string[] byAdapter = [$"adapter=\"{adapter.Name}\""];

        Assert.Null(Value(await ScrapeCoreAsync(), "ns_jobs_accepted_total", series));
        Assert.Null(Value(await scraper.GetStringAsync("/metrics"), "ns_jobs_finished_total", series));

        var jobId = await OfferAsync(adapter);
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId)).State);

        // The exporter caches a scrape for a moment, so the counts are read until they show.
        var core = await Eventually.Until(ScrapeCoreAsync, text => Value(text, "ns_jobs_accepted_total", series) == 1, what: "the core's accepted count");
        var scraped = await Eventually.Until(() => scraper.GetStringAsync("/metrics"),
            text => Value(text, "ns_jobs_finished_total", series) == 1, what: "the worker's finished count");
        Assert.Equal(1, Value(scraped, "ns_jobs_started_total", series));
        Assert.Null(Value(scraped, "ns_jobs_failed_total", series));
        Assert.Equal(1, Value(scraped, "ns_jobs_latency_seconds_count", byAdapter));
        Assert.Equal(1, Value(scraped, "ns_send_duration_seconds_count", byAdapter));
        // Buckets in seconds, not the SDK's default ones (0, 5, 10, ...) where every send falls below 5.
        Assert.NotNull(Value(scraped, "ns_send_duration_seconds_bucket", [.. byAdapter, "le=\"0.1\""]));
        Assert.NotNull(Value(scraped, "ns_jobs_latency_seconds_bucket", [.. byAdapter, "le=\"2.5\""]));
        // Wolverine's, ASP.NET Core's and the runtime's metrics are served alongside.
        Assert.Contains("dotnet_gc_", scraped);
        Assert.Contains("wolverine", core);
        Assert.Contains("http_server_request_duration_seconds", core);
        await System.StopWorkerAsync(worker);
    }

    [Fact]
    public async Task library_instruments_keep_200_series_and_the_services_own_keep_the_sdks_2000()
    {
        // Meters named as the ones the core collects: Npgsql's tags name only its data sources, the service's own name tenants.
        using var library = new System.Diagnostics.Metrics.Meter("Npgsql");
        using var own = new System.Diagnostics.Metrics.Meter(JobMetrics.MeterName);
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var bounded = library.CreateCounter<long>($"test.bounded.{suffix}");
        var open = own.CreateCounter<long>($"test.open.{suffix}");
        for (var i = 0; i < 250; i++)
        {
            bounded.Add(1, new KeyValuePair<string, object?>("k", i));
            open.Add(1, new KeyValuePair<string, object?>("k", i));
        }

        string[] Samples(string text, string metric) => text.Split('\n').Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal)).ToArray();
        double Total(string text, string metric) => Samples(text, metric).Sum(l => double.Parse(SampleValue().Match(l).Groups[1].Value, CultureInfo.InvariantCulture));
        // Until a scrape holds every measurement of both (the exporter may serve a scrape it cached a moment before); this
        // holds with or without a limit, so the assertions below decide.
        var scraped = await Eventually.Until(ScrapeCoreAsync,
            text => Total(text, $"test_bounded_{suffix}_total") == 250 && Samples(text, $"test_open_{suffix}_total").Length == 250,
            what: "every measurement of both test counters");
        var boundedSamples = Samples(scraped, $"test_bounded_{suffix}_total");
        Assert.Equal(Telemetry.BoundedSeriesPerInstrument + 1, boundedSamples.Length);
        // Past the limit the measurements are kept, in the SDK's one overflow series.
        Assert.Equal(250 - Telemetry.BoundedSeriesPerInstrument, Value(scraped, $"test_bounded_{suffix}_total", ["otel_metric_overflow=\"true\""]));
        Assert.DoesNotContain(Samples(scraped, $"test_open_{suffix}_total"), l => l.Contains("otel_metric_overflow"));
    }

    [Fact]
    public async Task with_a_metrics_key_set_metrics_answers_only_a_scraper_that_presents_it()
    {
        var adapter = await System.CreateAdapterAsync(UniqueName("scrape"), "webhook",
            new { url = "http://127.0.0.1:9/in", secret = "webhook-secret-0123456789", allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey,
            settings: new Dictionary<string, string?> { ["Telemetry:MetricsKey"] = "scrape-key-0123456789" });
        using var scraper = new HttpClient { BaseAddress = new Uri(worker.Urls.First()) };
        async Task<HttpResponseMessage> ScrapeAsync(string? authorization)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
            return await scraper.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await ScrapeAsync(null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ScrapeAsync("Bearer scrape-key-wrong")).StatusCode);
        var scraped = await ScrapeAsync("Bearer scrape-key-0123456789");
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.Contains("dotnet_gc_", await scraped.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await scraper.GetAsync("/health")).StatusCode); // probes stay open
        await System.StopWorkerAsync(worker);
    }

    [Fact]
    public async Task the_core_counts_the_cancels_it_commits()
    {
        // No worker: the job waits queued, so the cancel is decided and committed by the core alone.
        var idle = await System.CreateEmailAdapterAsync(UniqueName("idle"), System.Smtp.Port);
        string[] series = [$"adapter=\"{idle.Name}\"", $"service=\"{System.Tenant.Id}\""];
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(idle.Name, "never@example.test") } });
        Assert.Null(Value(await ScrapeCoreAsync(), "ns_jobs_canceled_total", series));

        Assert.Equal(202, (await System.CancelJobAsync(System.Tenant, offer.Jobs[0].Id)).Status);

        var core = await Eventually.Until(ScrapeCoreAsync, text => Value(text, "ns_jobs_canceled_total", series) == 1, what: "the core's canceled count");
        Assert.Equal(1, Value(core, "ns_jobs_accepted_total", series));
        Assert.Null(Value(core, "ns_jobs_started_total", series));
    }

    [Fact]
    public async Task the_core_counts_callback_deliveries_by_outcome()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.ReplyNextWith(new PeerReply(500, "")); // the first delivery fails and is retried
        var callback = await System.CreateCallbackAsync(System.Tenant, peer.BaseUrl + "/hooks/ns");
        var before = await ScrapeCoreAsync();
        double Count(string text, string outcome) => Value(text, "ns_callbacks_deliveries_total", [$"outcome=\"{outcome}\""]) ?? 0;

        await System.DeliverOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(System.Email.Name, "counted@example.test") } });
        await peer.WaitForCallbacksAsync(callback.Secret, r => r.Count >= 3, "started (twice: failed, then delivered) and finished");

        // Other tests' deliveries may still be settling, so at least these: a counter that did not move fails.
        var after = await Eventually.Until(ScrapeCoreAsync, text => Count(text, "delivered") >= Count(before, "delivered") + 2,
            what: "two more delivered callbacks counted");
        Assert.True(Count(after, "failed") >= Count(before, "failed") + 1, after);
    }

    [Fact]
    public async Task the_worker_logs_one_line_per_outcome_with_the_job_and_no_params()
    {
        await using var receiver = await HttpPeer.StartAsync();
        receiver.ReplyNextWith(new PeerReply(500, "upstream broke"));
        // The second request is held past the worker's 1 s timeout (BeforeReply), and answers nothing.
        receiver.ReplyNextWith(new PeerReply(400, "bad payload"));
        var requests = 0;
        receiver.BeforeReply = async (_, ct) => { if (Interlocked.Increment(ref requests) == 2) await Task.Delay(TimeSpan.FromSeconds(3), ct); };
        var (adapter, worker) = await WebhookAsync(receiver.BaseUrl + "/in", maxAttempts: 3);
        using var log = LogCapture.AttachTo(worker.Services);

        var jobId = await OfferAsync(adapter);
        Assert.Equal(JobState.Failed, (await System.WaitForTerminalAsync(System.Tenant, jobId)).State);

        var lines = await Eventually.Until(() => Task.FromResult(log.Lines.Where(l => l.Message.StartsWith($"Job {jobId} ")).ToList()),
            l => l.Count == 3, what: "three outcome lines");
        Assert.All(lines, l => Assert.Equal(LogLevel.Information, l.Level));
        Assert.Equal(["retry", "retry", "failed"], lines.Select(l => (string)l.State.Single(s => s.Key == "Outcome").Value!));
        Assert.Equal([1, 2, 3], lines.Select(l => (int)l.State.Single(s => s.Key == "Attempt").Value!));
        Assert.All(lines, l => Assert.Equal(adapter.Name, l.State.Single(s => s.Key == "Adapter").Value));
        Assert.All(lines, l => Assert.Equal(jobId, l.State.Single(s => s.Key == "JobId").Value));
        Assert.Contains("500", lines[0].Message);
        Assert.Contains("did not answer in time", lines[1].Message);
        Assert.Contains("400", lines[2].Message);
        Assert.True((long)lines[1].State.Single(s => s.Key == "DurationMs").Value! >= 900, lines[1].Message);
        Assert.All(lines, l => Assert.DoesNotContain("payload", l.Text)); // the params ({"payload": ...}) stay out
        Assert.All(lines, l => Assert.DoesNotContain("upstream broke", l.Text)); // and so does what the provider answered

        // Each line carries the trace it was written in (JSON formatter: its scopes hold TraceId and SpanId).
        var tracking = worker.Services.GetRequiredService<IOptions<LoggerFactoryOptions>>().Value.ActivityTrackingOptions;
        Assert.True(tracking.HasFlag(ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId), tracking.ToString());
        Assert.True(worker.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue.IncludeScopes, "JSON scopes");
        await System.StopWorkerAsync(worker);
    }

    [Fact]
    public async Task an_outcome_without_an_error_logs_no_null()
    {
        await using var receiver = await HttpPeer.StartAsync();
        var (adapter, worker) = await WebhookAsync(receiver.BaseUrl + "/in");
        using var log = LogCapture.AttachTo(worker.Services);

        var jobId = await OfferAsync(adapter);
        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, jobId)).State);

        var line = (await Eventually.Until(() => Task.FromResult(log.Lines.Where(l => l.Message.StartsWith($"Job {jobId} ")).ToList()),
            l => l.Count == 1, what: "the outcome line"))[0];
        Assert.Equal("finished", line.State.Single(s => s.Key == "Outcome").Value);
        Assert.Matches(@": finished \(\d+ ms\)$", line.Message);
        Assert.DoesNotContain("null", line.Message, StringComparison.OrdinalIgnoreCase);
        await System.StopWorkerAsync(worker);
    }

    [Fact]
    public async Task tracing_is_off_unless_an_exporter_is_configured_and_then_traces_and_metrics_go_over_otlp()
    {
        Assert.Null(System.Core.Services.GetService<TracerProvider>());

        await using var receiver = await HttpPeer.StartAsync();
        await using var collector = await HttpPeer.StartAsync(); // answers 200 to any POST, as an OTLP/HTTP collector does
        var adapter = await System.CreateAdapterAsync(UniqueName("otlp"), "webhook",
            new { url = receiver.BaseUrl + "/in", secret = "webhook-secret-0123456789", allowPrivateNetwork = true });
        var worker = await System.StartWorkerAsync<WebhookSender, WebhookConfig>("webhook", adapter.ApiKey, settings: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.BaseUrl, ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200", ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        Assert.NotNull(worker.Services.GetService<TracerProvider>());

        Assert.Equal(JobState.Finished, (await System.WaitForTerminalAsync(System.Tenant, await OfferAsync(adapter))).State);
        await Eventually.Until(() => collector.Requests.Any(r => r.Path == "/v1/traces") && collector.Requests.Any(r => r.Path == "/v1/metrics"),
            what: "OTLP traces and metrics at the collector");
        await System.StopWorkerAsync(worker);
    }

    private async Task<string> ScrapeCoreAsync() => await (await System.ScenarioAsync(HttpMethod.Get, "/metrics", key: null, expect: 200)).ReadAsTextAsync();

    /// <summary>The value of the one sample of <paramref name="metric"/> with these <paramref name="labels"/>; null when absent.</summary>
    private static double? Value(string exposition, string metric, string[] labels)
    {
        var prefix = metric + "{";
        var samples = exposition.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && labels.All(l.Contains)).ToList();
        return samples.Count switch
        {
            0 => null,
            1 => double.Parse(SampleValue().Match(samples[0]).Groups[1].Value, CultureInfo.InvariantCulture),
            _ => throw new Xunit.Sdk.XunitException($"{samples.Count} samples start with {prefix}:\n{string.Join("\n", samples)}"),
        };
    }

    [GeneratedRegex(@"\}\s+(\S+)")]
    private static partial Regex SampleValue();

    // The exporter adds to the list as spans end, under its own lock: a copy is read, never the list being written.
    private static Activity? Find(List<Activity> spans, Func<Activity, bool> match) => Snapshot(spans).FirstOrDefault(match);

    private static Activity[] Snapshot(List<Activity> spans) => spans.ToArray();

    private static string Describe(List<Activity> spans) =>
        string.Join("\n", Snapshot(spans).Select(s => $"{s.Source.Name} {s.Kind} {s.DisplayName} trace={s.TraceId} span={s.SpanId} parent={s.ParentSpanId} job={s.GetTagItem(Telemetry.JobIdTag)}"));
}
