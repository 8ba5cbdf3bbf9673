using JasperFx;
using NotificationService.Hosting;

namespace NotificationService.Core.Operations;

/// <summary>
/// The command line's rebuild (`projections rebuild`, JasperFx's command) takes the same advisory lock as
/// POST /admin/projections/rebuild (<see cref="RebuildLock"/>) before it runs, and refuses while another rebuild holds
/// it: two replays writing the same documents would each overwrite the other's. It holds the lock until the command
/// ends, so an admin rebuild meanwhile gets 409 and GET /admin/projections shows it rebuilding. The lock is taken around
/// JasperFx's command rather than inside it: that command has no hook of its own.
/// </summary>
public static class CommandLineRebuild
{
    public const string Refused =
        "A projection rebuild is running (POST /admin/projections/rebuild or another `projections rebuild`); GET /admin/projections shows it. Try again when it has finished.";

    /// <summary>`projections rebuild ...`: JasperFx's projections command with the rebuild action.</summary>
    public static bool IsRebuild(string[] args) =>
        args.Length > 1 && args[0].Equals("projections", StringComparison.OrdinalIgnoreCase)
        && args.Skip(1).Any(a => a.Equals("rebuild", StringComparison.OrdinalIgnoreCase));

    /// <summary>Runs the process's command (the web host when there is none), a rebuild only under the rebuild lock.</summary>
    public static async Task<int> RunCommandsAsync(this WebApplication app, string[] args)
    {
        if (!IsRebuild(args)) return await app.RunJasperFxCommands(args);
        await using var rebuild = await RebuildLock.TryTakeAsync(app.Configuration.RequiredConnectionString("Postgres"), CancellationToken.None);
        if (!rebuild.Acquired)
        {
            await System.Console.Error.WriteLineAsync(Refused);
            return 1;
        }
        return await app.RunJasperFxCommands(args);
    }
}
