using NotificationService.Bench;

// ./ns bench [--quick], ./ns chaos [--quick] and ./ns hostile [--quick] [--seed N] [--replay N] run this with the connection
// strings of the ns_bench database.
var root = Environment.GetEnvironmentVariable("NS_ROOT") ?? throw new InvalidOperationException("Run through ./ns bench, ./ns chaos or ./ns hostile.");
var postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")!;
var rabbitMq = Environment.GetEnvironmentVariable("ConnectionStrings__RabbitMq")!;
var quick = args.Contains("--quick");
int? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : null;

await Database.ResetAsync(postgres);
// Every mode starts with the server's own setting for planning counts, also after a profile that stopped before switching
// them back (Statements.TrackPlanningAsync).
if (await Statements.AvailableAsync(postgres)) await Statements.TrackPlanningAsync(postgres, on: false);
return args.FirstOrDefault() switch
{
    "chaos" => await Chaos.RunAsync(root, postgres, rabbitMq, quick, onlyProcesses: args.Contains("--only-processes"), brokerDownSeconds: Math.Max(0, Option("--broker-down") ?? 2)),
    "hostile" => await Hostile.RunAsync(root, postgres, rabbitMq, quick, Option("--seed") ?? 20261130, Option("--replay")),
    _ when args.Contains("--templates") => await TemplatesBench.RunAloneAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--callbacks") => await Benchmark.RunCallbacksAloneAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--telemetry") => await TelemetryCost.RunAloneAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--profile") => await Profile.RunAsync(root, postgres, rabbitMq),
    _ when args.Contains("--email") => await Email.RunAloneAsync(root, postgres, rabbitMq, quick, Option("--warm-up")),
    _ when args.Contains("--scale-out") => await ScaleOut.RunAloneAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--one-target") => await Million.RunAloneAsync(root, postgres, rabbitMq, quick, seed: false),
    _ when args.Contains("--million") => await Million.RunAloneAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--search") => await Search.RunAloneAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--fairness") => await Fairness.RunAloneAsync(root, postgres, rabbitMq, quick, off: args.Contains("--fairness-off")),
    _ => await Benchmark.RunAsync(root, postgres, rabbitMq, quick),
};
