namespace NotificationService.Bench;

/// <summary>
/// The email profile: one-target offers through an email worker (MailKit) to the receivers' SMTP server, beside Apprise
/// sending to the same server from one process (Limits.AppriseAsync).
/// </summary>
public static class Email
{
    /// <summary><paramref name="StealPercent"/>: the host's steal, the highest of NS's window and each of Apprise's runs (the ratios rest on them).</summary>
    public sealed record Result(double EmailsPerSecond, Limits.AppriseRates? Apprise, double? StealPercent = null);

    /// <summary>
    /// The worker is started here, so it is warmed up before the measured window like the webhook worker before the
    /// first webhook phase (Million.WarmUpAsync): measured from its start, the window was its tiered JIT's first seconds
    /// under a saturated CPU, which every other phase leaves out (bench/README.md, "The email profile, warmed up").
    /// </summary>
    public static async Task<Result> RunAsync(Stack stack, Receivers receivers, Load load, bool quick, TimeSpan? warmUp = null)
    {
        Console.WriteLine("-- email profile: NS through MailKit against Apprise, same local SMTP server");
        var emails = quick ? 100 : 1000;
        var adapter = await stack.CreateAdapterAsync("bench-email", "email", new { host = "127.0.0.1", port = receivers.SmtpPort, security = "none", from = "ns@example.test" });
        await stack.StartWorkerAsync("Email", adapter.Key);
        object Params(int i) => new { to = "dest@example.test", subject = $"Bench {i}", text = "Hello from NS" };
        var warm = warmUp ?? TimeSpan.FromSeconds(quick ? 2 : 20);
        if (warm > TimeSpan.Zero) await load.RunAsync("email warm-up", adapter.Name, Params, 1, warm, 16);
        var phase = await load.RunAsync("email", adapter.Name, Params, 1, TimeSpan.FromSeconds(quick ? 2 : 10), 16);
        var apprise = await Limits.AppriseAsync(receivers.SmtpPort, quick ? 2 : 6, emails);
        Console.WriteLine($"   NS {phase.DeliveredJobsPerSecond:0.0} emails/s ({phase.Jobs} emails, after {warm.TotalSeconds:0} s of warm-up), " +
                          $"CPU ms per email: core {phase.CoreCpuMsPerJob}, worker {phase.WorkerCpuMsPerJob}; Apprise " +
                          (apprise is { } a ? $"{a.Default:0.00} emails/s as shipped, {a.Unthrottled:0.0} emails/s with its throttle off ({emails} emails)" : "not installed") +
                          $"; host steal {phase.Waits?.Steal ?? "n/a"} in NS's window" +
                          (apprise is { } b ? $", {Percent(b.DefaultSteal)} and {Percent(b.UnthrottledSteal)} in Apprise's runs" : ""));
        double?[] steal = [phase.Waits?.StealPercent, apprise?.DefaultSteal, apprise?.UnthrottledSteal];
        return new Result(phase.DeliveredJobsPerSecond, apprise, steal.Max());
        static string Percent(double? steal) => steal is { } s ? $"{s:0.0} %" : "n/a";
    }

    /// <summary>`--email [--warm-up S]`: the email profile alone, on a stack of its own (one core, one email worker).</summary>
    public static async Task<int> RunAloneAsync(string root, string postgres, string rabbitMq, bool quick, int? warmUpSeconds)
    {
        await using var receivers = await Receivers.StartAsync();
        await using var stack = await Stack.StartAsync(root, postgres, rabbitMq, cores: 0);
        await stack.StartCoreAsync();
        await stack.CreateServiceAsync();
        var load = new Load(stack, receivers, postgres);
        await RunAsync(stack, receivers, load, quick, warmUpSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
        return 0;
    }
}
