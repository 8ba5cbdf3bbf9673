using Npgsql;
using NotificationService.Bench;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Docs;

/// <summary>
/// The bench's sampler of PostgreSQL's backends (bench/NotificationService.Bench/PostgresWaits.cs) against the real
/// server: each backend is counted under its role, so a window tells whose transactions were waiting (at the maximum rate,
/// about six of the core's sat idle in their transactions: bench/README.md, "Whose backends wait").
/// </summary>
public sealed class when_the_bench_samples_postgres_backends
{
    [Fact]
    public async Task a_transaction_its_client_left_open_counts_as_that_roles_idle_in_transaction()
    {
        var postgres = TestEnvironment.WorkerPostgres;
        await using var client = new NpgsqlConnection(postgres);
        await client.OpenAsync();
        await using var transaction = await client.BeginTransactionAsync();
        await using (var statement = new NpgsqlCommand("SELECT 1", client, transaction)) await statement.ExecuteScalarAsync();

        await using var sampler = PostgresWaits.Start(postgres);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var waits = await sampler.StopAsync();

        Assert.True(waits.Samples > 0, "not sampled");
        // ns_worker reads "worker"; other tests of this role may hold transactions too, never fewer than this one.
        var role = new NpgsqlConnectionStringBuilder(postgres).Username!.Replace("ns_", "");
        Assert.True(waits.ActiveBackends.TryGetValue($"{role}: idle in transaction", out var idle) && idle >= 1,
            $"{role}'s open transaction not counted: {waits.Backends(20)}");
    }
}
