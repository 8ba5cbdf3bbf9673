using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace NotificationService.Bench;

/// <summary>This machine's own limits, measured in the same run as the system, so results compare to the hardware they ran on.</summary>
public static partial class Limits
{
    /// <summary>pgbench, 8 clients, single-row INSERTs, synchronous_commit on (the default): transactions per second.</summary>
    public static async Task<double> PgBenchAsync(string postgres, int seconds)
    {
        var cs = new NpgsqlConnectionStringBuilder(postgres);
        await using (var connection = new NpgsqlConnection(postgres))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand("DROP TABLE IF EXISTS bench_insert; CREATE TABLE bench_insert (id bigserial PRIMARY KEY, v text)", connection);
            await create.ExecuteNonQueryAsync();
        }
        var script = Path.GetTempFileName();
        await File.WriteAllTextAsync(script, "INSERT INTO bench_insert (v) VALUES ('x');\n");
        var output = await RunAsync("pgbench", ["-n", "-c", "8", "-j", "2", "-T", seconds.ToString(), "-f", script, "-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username!, cs.Database!]);
        File.Delete(script);
        return double.Parse(Tps().Match(output).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex Tps();

    /// <summary>RabbitMQ.Client alone: 1 KB persistent messages published with confirms and consumed with acks, both at once.</summary>
    public static async Task<double> RabbitMqAsync(string rabbitMq, int messages)
    {
        var factory = new ConnectionFactory { Uri = new Uri(rabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var publisher = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await using var consumer = await connection.CreateChannelAsync();
        var queue = (await consumer.QueueDeclareAsync($"bench.raw.{Guid.NewGuid():N}", durable: true, exclusive: false, autoDelete: true)).QueueName;
        await consumer.BasicQosAsync(0, 200, false);
        var received = 0;
        var done = new TaskCompletionSource();
        var listener = new AsyncEventingBasicConsumer(consumer);
        listener.ReceivedAsync += async (_, e) =>
        {
            await consumer.BasicAckAsync(e.DeliveryTag, false);
            if (Interlocked.Increment(ref received) == messages) done.TrySetResult();
        };
        await consumer.BasicConsumeAsync(queue, autoAck: false, listener);

        var body = new byte[1024];
        var properties = new BasicProperties { Persistent = true };
        var watch = Stopwatch.StartNew();
        var window = new List<Task>();
        for (var i = 0; i < messages; i++)
        {
            window.Add(publisher.BasicPublishAsync("", queue, false, properties, body).AsTask());
            if (window.Count == 256) { await Task.WhenAll(window); window.Clear(); }
        }
        await Task.WhenAll(window);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
        return messages / watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Apprise (Debian's package), one Python process sending emails to the same SMTP server: as shipped (it throttles
    /// email to about one per 5 s by design, so a few sends measure it) and with that throttle off (a fair upper bound).
    /// </summary>
    public static async Task<AppriseRates?> AppriseAsync(int smtpPort, int throttledCount, int count)
    {
        if (!File.Exists("/usr/bin/apprise")) return null;
        // Each run with the host's steal over its own seconds: the throttled run mostly sleeps, so one reading over both
        // would thin out what the unthrottled run lost.
        async Task<(double Rate, double? Steal)> SendAsync(int n, bool unthrottled)
        {
            var hostBefore = HostSteal.Reading();
            var script = $$"""
                import apprise, time
                a = apprise.Apprise()
                a.add("mailto://127.0.0.1:{{smtpPort}}?smtp=127.0.0.1&from=bench@example.test&to=dest@example.test")
                if {{(unthrottled ? "True" : "False")}}:
                    for s in a: s.request_rate_per_sec = 0
                t = time.monotonic()
                ok = sum(1 for i in range({{n}}) if a.notify(title=f"Bench {i}", body="Hello from Apprise"))
                print(f"SENT {ok} {time.monotonic() - t}")
                """;
            var output = await RunAsync("/usr/bin/python3", ["-c", script]);
            var steal = HostSteal.Since(hostBefore);
            var match = Regex.Match(output, @"SENT (\d+) ([0-9.]+)");
            return match.Success && int.Parse(match.Groups[1].Value) > 0
                ? (int.Parse(match.Groups[1].Value) / double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), steal)
                : throw new InvalidOperationException($"Apprise sent nothing:\n{output}");
        }
        var (throttled, throttledSteal) = await SendAsync(throttledCount, unthrottled: false);
        var (unthrottled, unthrottledSteal) = await SendAsync(count, unthrottled: true);
        return new AppriseRates(throttled, unthrottled, throttledSteal, unthrottledSteal);
    }

    /// <summary>Apprise's emails/s as shipped and with its throttle off, and the host's steal during each run.</summary>
    public sealed record AppriseRates(double Default, double Unthrottled, double? DefaultSteal, double? UnthrottledSteal);

    private static async Task<string> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return await stdout + await stderr;
    }
}
