using Microsoft.Extensions.DependencyInjection;
using NotificationService.Core.Retention;
using NotificationService.Core.Tests.Operations;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Retention;

/// <summary>
/// A job's dead letter may quote its recipient (a provider's "550 &lt;ann@example.test&gt;"): it goes when the job's
/// params are erased or the job is deleted, and rows left behind by jobs erased before that rule existed are swept.
/// </summary>
public sealed class when_dead_letters_outlive_their_jobs(SystemFixture system) : IntegrationContext(system)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private static SeedJob Email(string to) => new(new { to, subject = "Hi", text = "Hello" });

    [Fact]
    public async Task the_sweep_deletes_the_dead_letters_of_the_jobs_it_erases_or_deletes_and_keeps_the_young_ones()
    {
        var erased = await System.OfferAsync(System.Tenant, Now.AddDays(-41), Now.AddDays(-40), [Email("dl-erased@example.test")]);
        var deleted = await System.OfferAsync(System.Tenant, Now.AddDays(-400), Now.AddDays(-399), [Email("dl-deleted@example.test")]);
        var young = await System.OfferAsync(System.Tenant, Now.AddDays(-2), Now.AddDays(-1), [Email("dl-young@example.test")]);
        var rows = await DeadLetterRows.InsertAsync(System.Email.Queue,
            [(erased.JobIds[0], Now.AddDays(-40)), (deleted.JobIds[0], Now.AddDays(-399)), (young.JobIds[0], Now.AddDays(-1))], "550 <someone@example.test>: no such user");

        var swept = await System.SweepAsync(Now);

        Assert.Equal((2, 1), (swept!.ParamsErased, swept.JobsDeleted));
        Assert.Equal(0, await DeadLetterRows.CountAsync([rows[0]]));
        Assert.Equal(0, await DeadLetterRows.CountAsync([rows[1]]));
        Assert.Equal(1, await DeadLetterRows.CountAsync([rows[2]]));
    }

    [Fact]
    public async Task the_sweep_deletes_dead_letters_whose_job_no_longer_exists()
    {
        // A job erased or deleted before erasure cleaned dead letters: its row outlived it.
        var live = await System.OfferAsync(System.Tenant, Now.AddDays(-2), Now.AddDays(-1), [Email("dl-live@example.test")]);
        var orphans = await DeadLetterRows.InsertAsync(System.Email.Queue,
            [(Guid.NewGuid(), Now.AddDays(-3)), (Guid.NewGuid(), Now.AddMinutes(-1))], "550 <gone@example.test>: no such user");
        var kept = await DeadLetterRows.InsertAsync(System.Email.Queue, [(live.JobIds[0], Now.AddMinutes(-1))], "still here");
        // A row with no job in it (not a job's message) is the operators' to discard: the sweep cannot tell whose it is.
        var notAJob = Guid.NewGuid();
        await Sql.ExecuteAsync($"""
            INSERT INTO {DeadLetterRows.WorkersTable} (id, body, message_type, exception_type, exception_message, sent_at, replayable)
            VALUES ('{notAJob}', '\x00010203'::bytea, 'Something.Else', 'X', 'not a job', now(), false)
            """);
        // 36 characters that look like a job id but are no UUID: the walk must skip it, not fail on every run.
        var malformed = Guid.NewGuid();
        const string BadJobId = "{\"jobId\":\"0123456789abcdef0123456789abcdef0123\"}";
        await Sql.ExecuteAsync($"""
            INSERT INTO {DeadLetterRows.WorkersTable} (id, body, message_type, exception_type, exception_message, sent_at, replayable)
            VALUES ('{malformed}', convert_to('{BadJobId}', 'UTF8'), 'Something.Else', 'X', 'bad id', now(), false)
            """);
        try
        {
            Assert.NotNull(await System.Core.Services.GetRequiredService<RetentionSweeper>().SweepOrphanedDeadLettersAsync(CancellationToken.None));

            Assert.Equal(0, await DeadLetterRows.CountAsync(orphans));
            Assert.Equal(1, await DeadLetterRows.CountAsync(kept));
            Assert.Equal(1, await DeadLetterRows.CountAsync([notAJob]));
            Assert.Equal(1, await DeadLetterRows.CountAsync([malformed]));
        }
        finally
        {
            await Sql.ExecuteAsync($"DELETE FROM {DeadLetterRows.WorkersTable} WHERE id IN ('{notAJob}', '{malformed}')");
        }
    }

    [Fact]
    public async Task one_cores_orphan_walk_serves_every_core_for_a_day()
    {
        // Far ahead of any walk the test core's own background sweep records, so the first call is due.
        var at = DateTimeOffset.UtcNow.AddYears(10);
        var sweeper = System.Core.Services.GetRequiredService<RetentionSweeper>();
        // Another core's sweeper: nothing shared with the first but the database.
        var services = System.Core.Services;
        var second = new RetentionSweeper(services.GetRequiredService<Marten.IDocumentStore>(), services.GetRequiredService<RetentionSettings>(),
            TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<RetentionSweeper>.Instance);

        Assert.NotNull(await sweeper.SweepOrphanedDeadLettersIfDueAsync(at, CancellationToken.None));
        var orphan = await DeadLetterRows.InsertAsync(System.Email.Queue, [(Guid.NewGuid(), Now.AddMinutes(-1))], "550 <later@example.test>");

        Assert.Null(await second.SweepOrphanedDeadLettersIfDueAsync(at.AddHours(23), CancellationToken.None));
        Assert.Equal(1, await DeadLetterRows.CountAsync(orphan));
        Assert.NotNull(await second.SweepOrphanedDeadLettersIfDueAsync(at.AddDays(1), CancellationToken.None));
        Assert.Equal(0, await DeadLetterRows.CountAsync(orphan));
    }
}
