using System.Text.Json;

namespace NotificationService.Bench;

/// <summary>
/// `./ns bench --telemetry [--quick]`: what OpenTelemetry costs in delivered jobs/s. The same closed-loop load (1 target
/// per offer, 16 clients, webhook worker) runs twice on one core and one worker: first as deployed by default (metrics
/// collected for /metrics, nobody scraping, no tracer provider), then restarted with everything on (traces and metrics
/// exported over OTLP/HTTP to the bench's receiver, which discards them, and /metrics of both processes scraped every 5 s).
/// </summary>
public static class TelemetryCost
{
    public sealed record Result(PhaseResult Off, PhaseResult On, double JobsPerSecondRatio);

    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        await stack.StartCoreAsync();
        await stack.CreateServiceAsync();
        var webhook = await stack.CreateAdapterAsync("bench-webhook", "webhook",
            new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        var load = new Load(stack, receivers, postgres);
        object Payload(int i) => new { payload = new { i } };
        var window = TimeSpan.FromSeconds(quick ? 4 : 20);

        Console.WriteLine("-- telemetry: the same load with telemetry off (default) and on (OTLP traces + metrics, /metrics scraped every 5 s)");
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, TimeSpan.FromSeconds(quick ? 2 : 5), 8);
        var off = await load.RunAsync("1 target per offer, 16 clients, telemetry off", webhook.Name, Payload, 1, window, 16);

        // The receiver answers every POST with 204, which the OTLP/HTTP exporter takes as accepted.
        foreach (var settings in new[] { stack.CoreSettings, stack.WorkerSettings })
        {
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{receivers.WebhookPort}";
            settings["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            settings["OTEL_METRIC_EXPORT_INTERVAL"] = "5000";
        }
        await stack.Cores[0].StopAsync();
        await stack.StartCoreAsync(index: 0);
        await stack.Workers[0].StopAsync();
        await stack.StartWorkerAsync("Webhook", webhook.Key, replace: 0);
        using var stopScraping = new CancellationTokenSource();
        var scraping = ScrapeAsync(stack, [stack.CoreUrls[0], stack.WorkerUrls[0]], stopScraping.Token);
        await load.RunAsync("warm-up", webhook.Name, Payload, 1, TimeSpan.FromSeconds(quick ? 2 : 5), 8);
        var on = await load.RunAsync("1 target per offer, 16 clients, telemetry on", webhook.Name, Payload, 1, window, 16);
        await stopScraping.CancelAsync();
        var scrapes = await scraping;

        var ratio = Math.Round(on.DeliveredJobsPerSecond / Math.Max(0.001, off.DeliveredJobsPerSecond), 3);
        Console.WriteLine($"   delivered {off.DeliveredJobsPerSecond} jobs/s off, {on.DeliveredJobsPerSecond} jobs/s on ({ratio:P1}); " +
                          $"core CPU {off.CoreCpuMsPerJob} -> {on.CoreCpuMsPerJob} ms/job, worker CPU {off.WorkerCpuMsPerJob} -> {on.WorkerCpuMsPerJob} ms/job; " +
                          $"{scrapes} scrapes");
        Console.WriteLine(JsonSerializer.Serialize(new Result(off, on, ratio)));
        return scrapes > 0 ? 0 : 1;
    }

    /// <summary>Scrapes each /metrics every 5 s, as Prometheus would; returns how many scrapes succeeded.</summary>
    private static async Task<int> ScrapeAsync(Stack stack, Uri[] targets, CancellationToken stop)
    {
        var scrapes = 0;
        try
        {
            while (true)
            {
                foreach (var target in targets)
                {
                    // A process still starting (or briefly busy) refuses a scrape; Prometheus would count it missed and go on.
                    try
                    {
                        using var response = await stack.Http.GetAsync(new Uri(target, "/metrics"), stop);
                        if (response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync(stop)).Contains("ns_jobs_")) scrapes++;
                    }
                    catch (HttpRequestException) { }
                }
                await Task.Delay(TimeSpan.FromSeconds(5), stop);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { return scrapes; }
    }
}
