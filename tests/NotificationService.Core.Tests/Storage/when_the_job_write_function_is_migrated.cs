using Marten;
using Npgsql;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Weasel.Core;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// ns.write_job (JobStreamAppend) is one of the store's schema objects: a core's start compares it with the database and
/// changes it only when it differs. A definition PostgreSQL prints differently from how it was declared (timestamptz for
/// timestamp with time zone) would differ at every start, and every start would drop and create the function while
/// workers call it.
/// </summary>
public sealed class when_the_job_write_function_is_migrated
{
    [Fact]
    public async Task a_start_after_the_migration_finds_it_unchanged()
    {
        using var store = DocumentStore.For(opts => opts.UseNotificationStore(ScratchTable.Postgres));
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        await using var connection = new NpgsqlConnection(ScratchTable.Postgres);
        await connection.OpenAsync();
        var delta = await JobStreamAppend.WriteJobFunction().FindDeltaAsync(connection);
        Assert.Equal(SchemaPatchDifference.None, delta.Difference);
    }
}
