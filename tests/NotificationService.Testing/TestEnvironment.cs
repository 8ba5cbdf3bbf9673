using System.Diagnostics;

namespace NotificationService.Testing;

/// <summary>The real infrastructure the tests run against, as started by <c>./ns test</c>.</summary>
public static class TestEnvironment
{
    public static string Postgres => Required("ConnectionStrings__Postgres");
    /// <summary>The core's RabbitMQ user (./ns test passes ns-core).</summary>
    public static string RabbitMq => Required("ConnectionStrings__RabbitMq");

    /// <summary>The workers' RabbitMQ user (./ns test passes ns-worker); the core's when unset.</summary>
    public static string WorkerRabbitMq => Optional("NS_WORKER_RABBITMQ") ?? RabbitMq;

    /// <summary>An operator's RabbitMQ user, for helpers that inspect or purge any queue; the core's when unset.</summary>
    public static string OperatorRabbitMq => Optional("NS_RABBITMQ_OPERATOR") ?? RabbitMq;

    private static string? Optional(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the tests with ./ns test, which starts PostgreSQL and RabbitMQ.");

    /// <summary>Stops or starts the RabbitMQ application (the node and its data stay), through <c>./ns rabbitmqctl</c>.</summary>
    public static async Task RabbitMqCtlAsync(string command)
    {
        var ctl = Required("NS_RABBITMQCTL").Split(' ', 2);
        var start = new ProcessStartInfo(ctl[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (ctl.Length > 1) start.ArgumentList.Add(ctl[1]);
        start.ArgumentList.Add(command);
        using var process = Process.Start(start)!;
        var output = await process.StandardError.ReadToEndAsync() + await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"rabbitmqctl {command} failed: {output}");
    }
}
