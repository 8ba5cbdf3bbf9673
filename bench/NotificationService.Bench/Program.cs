using NotificationService.Bench;

// ./ns bench [--quick] and ./ns chaos [--quick] run this with the connection strings of the ns_bench database.
var root = Environment.GetEnvironmentVariable("NS_ROOT") ?? throw new InvalidOperationException("Run through ./ns bench or ./ns chaos.");
var postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")!;
var rabbitMq = Environment.GetEnvironmentVariable("ConnectionStrings__RabbitMq")!;
var quick = args.Contains("--quick");

await Database.ResetAsync(postgres);
return args.FirstOrDefault() switch
{
    "chaos" => await Chaos.RunAsync(root, postgres, rabbitMq, quick),
    _ when args.Contains("--profile") => await Profile.RunAsync(root, postgres, rabbitMq),
    _ => await Benchmark.RunAsync(root, postgres, rabbitMq, quick),
};
