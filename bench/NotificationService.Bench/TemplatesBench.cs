namespace NotificationService.Bench;

/// <summary>
/// `./ns bench --templates [--quick]`: what rendering at accept time costs. The one-target closed-loop phase (16 clients,
/// one webhook worker) twice, the same payload given as params and then rendered from a template (two locales, a loop
/// and filters over data, so Liquid does some work), alternating plain/templated twice so drift in the machine shows.
/// </summary>
public static class TemplatesBench
{
    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq);
        var webhook = await stack.CreateAdapterAsync("bench-webhook", "webhook", new { url = $"http://127.0.0.1:{receivers.WebhookPort}/in", secret = "bench-secret-0123456789", allowPrivateNetwork = true });
        await stack.StartWorkerAsync("Webhook", webhook.Key);
        await stack.ServiceAsync("/v1/templates", new
        {
            key = "bench-order", type = "webhook", defaultLocale = "en",
            variants = new Dictionary<string, object>
            {
                ["en"] = new { payload = new { i = "{{ i }}", text = "Hello {{ name | capitalize }}, order {{ order.id }}: {% for item in order.items %}{{ item.name }} x{{ item.qty }}{% unless forloop.last %}, {% endunless %}{% endfor %}" } },
                ["de"] = new { payload = new { i = "{{ i }}", text = "Hallo {{ name | capitalize }}, Bestellung {{ order.id }}: {% for item in order.items %}{{ item.name }} x{{ item.qty }}{% unless forloop.last %}, {% endunless %}{% endfor %}" } },
            },
        });
        var load = new Load(stack, receivers, postgres);
        var items = new[] { new { name = "apple", qty = 2 }, new { name = "pear", qty = 1 }, new { name = "plum", qty = 5 } };
        object Plain(int i) => new { payload = new { i, text = $"Hello Ada, order {i}: apple x2, pear x1, plum x5" } };
        object Templated(int i) => new { adapter = webhook.Name, template = "bench-order", locale = i % 2 == 0 ? "de-AT" : "en", data = new { i, name = "ada", order = new { id = i, items } } };
        var window = TimeSpan.FromSeconds(quick ? 4 : 20);

        await load.RunAsync("warm-up", webhook.Name, Plain, 1, TimeSpan.FromSeconds(quick ? 2 : 5), 8);
        await load.RunAsync("warm-up (templated)", webhook.Name, Plain, 1, TimeSpan.FromSeconds(quick ? 2 : 5), 8, target: Templated);
        Console.WriteLine("-- templates: 1 target per offer, 16 clients, params as they are vs rendered from a template");
        var results = new List<PhaseResult>();
        for (var round = 1; round <= 2; round++)
            foreach (var templated in new[] { false, true })
            {
                var name = $"1 target per offer, 16 clients, {(templated ? "templated" : "plain")} (round {round})";
                var result = await load.RunAsync(name, webhook.Name, Plain, 1, window, 16, target: templated ? Templated : null);
                Console.WriteLine($"   {name}: accepted {result.JobsAcceptedPerSecond} jobs/s, delivered {result.DeliveredJobsPerSecond} jobs/s, " +
                                  $"accept p50/p99 {result.AcceptMs.P50}/{result.AcceptMs.P99} ms, core CPU {result.CoreCpuMsPerJob} ms/job, {result.FailedRequests} failed");
                results.Add(result);
            }
        return results.All(r => r.FailedRequests == 0 && r.Jobs > 0) ? 0 : 1;
    }
}
