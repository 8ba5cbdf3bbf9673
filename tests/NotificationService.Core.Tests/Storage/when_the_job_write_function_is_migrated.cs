using Npgsql;
using NotificationService.Storage.Jobs;
using Weasel.Core;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// ns.write_job (JobStreamAppend) is one of the store's schema objects: a core's start compares it with the database and
/// changes it only when it differs. A definition PostgreSQL prints differently from how it was declared (timestamptz for
/// timestamp with time zone) would differ at every start, and every start would drop and create the function while
/// workers call it.
/// </summary>
/// <remarks>
/// It reads what the shared system's core migrated at its start. A migration of its own raced the fixture's, whose
/// global lock a store's own apply does not take (CI: 42P07, an index "already exists", in the fixture's start).
/// </remarks>
public sealed class when_the_job_write_function_is_migrated(SystemFixture system) : IntegrationContext(system)
{
    [Fact]
    public async Task a_start_after_the_migration_finds_it_unchanged()
    {
        await using var connection = new NpgsqlConnection(ScratchTable.Postgres);
        await connection.OpenAsync();
        var delta = await JobStreamAppend.WriteJobFunction().FindDeltaAsync(connection);
        Assert.Equal(SchemaPatchDifference.None, delta.Difference);
    }
}
