using System.Diagnostics;
using System.Text.Json;
using NotificationService.Core.Operations;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Core.Tests.Operations;

public sealed class when_a_rebuild_is_running(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task another_rebuild_is_refused_and_the_progress_shows_it_running()
    {
        // The lock a running rebuild holds, held here as another core's rebuild would.
        await using (var other = new NpgsqlConnection(TestEnvironment.Postgres))
        {
            await other.OpenAsync();
            await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({RebuildLock.Key})", other)) await take.ExecuteNonQueryAsync();

            var (status, problem) = await System.SendForStatusAsync(HttpMethod.Post, "/admin/projections/rebuild", SystemFixture.AdminKey);
            Assert.Equal(409, status);
            Assert.Contains("rebuild is running", problem.GetProperty("detail").GetString());
            var progress = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/projections", SystemFixture.AdminKey, expect: 200);
            Assert.True(progress.GetProperty("rebuilding").GetBoolean());
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({RebuildLock.Key})", other);
            await release.ExecuteNonQueryAsync();
        }

        var rebuilt = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/projections/rebuild", SystemFixture.AdminKey, expect: 200);
        Assert.Equal(3, rebuilt.GetProperty("projections").GetArrayLength());
        var after = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/projections", SystemFixture.AdminKey, expect: 200);
        Assert.False(after.GetProperty("rebuilding").GetBoolean());
        var highWaterMark = after.GetProperty("highWaterMark").GetInt64();
        Assert.True(highWaterMark > 0);
        // The status callbacks' subscription follows the store: its lag is what it has yet to read.
        Assert.All(after.GetProperty("projections").EnumerateArray(), p =>
            Assert.Equal(Math.Max(0, highWaterMark - p.GetProperty("sequence").GetInt64()), p.GetProperty("lag").GetInt64()));
        var operations = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/operations?kind=Rebuild&pageSize=5", SystemFixture.AdminKey, expect: 200);
        var latest = operations.GetProperty("items")[0];
        Assert.StartsWith("admin:", latest.GetProperty("by").GetString());
        Assert.Equal("Done", latest.GetProperty("status").GetString());
    }

    // Review: the command line's `projections rebuild` took no lock. With the lock held, as a running admin rebuild holds
    // it, the command refuses before replaying anything.
    [Fact]
    public async Task the_command_lines_rebuild_refuses_while_another_rebuild_runs()
    {
        await using var other = new NpgsqlConnection(TestEnvironment.Postgres);
        await other.OpenAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({RebuildLock.Key})", other)) await take.ExecuteNonQueryAsync();
        try
        {
            var (exitCode, output) = await CoreCommandAsync("projections", "rebuild");
            Assert.True(exitCode == 1, output);
            Assert.Contains(CommandLineRebuild.Refused, output);
        }
        finally
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({RebuildLock.Key})", other);
            await release.ExecuteNonQueryAsync();
        }
    }

    [Theory]
    [InlineData(new[] { "projections", "rebuild" }, true)]
    [InlineData(new[] { "projections", "Rebuild", "--interactive" }, true)]
    [InlineData(new[] { "projections" }, false)]
    [InlineData(new[] { "projections", "list" }, false)]
    [InlineData(new[] { "codegen", "write" }, false)]
    [InlineData(new string[0], false)]
    public void only_the_rebuild_action_takes_the_lock(string[] args, bool rebuild) => Assert.Equal(rebuild, CommandLineRebuild.IsRebuild(args));

    /// <summary>The built core run as an operator runs it from the command line, against the test database.</summary>
    private static async Task<(int ExitCode, string Output)> CoreCommandAsync(params string[] args)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(WorkerProcess.RepositoryRoot(), "src", "NotificationService.Core", "bin", configuration, "net10.0", "NotificationService.Core.dll");
        var start = new ProcessStartInfo("dotnet", [dll, .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)!,
            Environment = { ["ConnectionStrings__Postgres"] = TestEnvironment.Postgres, ["ConnectionStrings__RabbitMq"] = TestEnvironment.RabbitMq },
        };
        using var process = Process.Start(start)!;
        var (stdout, stderr) = (process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await process.WaitForExitAsync(wait.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
        return (process.ExitCode, await stderr + await stdout);
    }

    // Review 5: a rebuild of another database on the same server (another environment, another helper) is not ours.
    [Fact]
    public async Task the_lock_held_in_another_database_is_not_a_rebuild_here()
    {
        var elsewhere = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres) { Database = "postgres" }.ConnectionString;
        await using var other = new NpgsqlConnection(elsewhere);
        await other.OpenAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({RebuildLock.Key})", other)) await take.ExecuteNonQueryAsync();
        try
        {
            var progress = await System.SendAsync<JsonElement>(HttpMethod.Get, "/admin/projections", SystemFixture.AdminKey, expect: 200);
            Assert.False(progress.GetProperty("rebuilding").GetBoolean());
        }
        finally
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({RebuildLock.Key})", other);
            await release.ExecuteNonQueryAsync();
        }
    }
}
