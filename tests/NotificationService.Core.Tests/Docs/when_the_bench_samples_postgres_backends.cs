using System.Text.RegularExpressions;
using Npgsql;
using NotificationService.Bench;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Docs;

/// <summary>
/// The bench's sampler of PostgreSQL's backends (bench/NotificationService.Bench/PostgresWaits.cs) against the real
/// server: each backend is counted under its role, so a window tells whose transactions were waiting (at the maximum rate,
/// five to six of the core's sat idle in their transactions: bench/README.md, "The job row split in two, and whose
/// backends wait"). Here the sampler connects as the role it watches, which sees its own backends; the bench connects as
/// a superuser, which sees every role's.
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
        // The sampler's name for the role: less a leading "ns_", as its query does (ns_worker reads "worker").
        var role = Regex.Replace(new NpgsqlConnectionStringBuilder(postgres).Username ?? Environment.UserName, "^ns_", "");

        await using var sampler = PostgresWaits.Start(postgres);
        // It opens its connection, then samples every tenth of a second: 3 s leaves a loaded machine room for a few samples.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var waits = await sampler.StopAsync();

        Assert.True(waits.Samples > 0, "not sampled");
        // Other tests of this role may hold transactions too, never fewer than this one.
        Assert.True(waits.ActiveBackends.TryGetValue($"{role}: idle in transaction", out var idle) && idle >= 1,
            $"{role}'s open transaction not counted: {waits.Backends(20)}");
    }
}
