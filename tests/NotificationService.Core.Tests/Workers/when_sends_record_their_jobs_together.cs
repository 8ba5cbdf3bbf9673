using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NotificationService.Adapters.Runtime;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

public sealed class when_sends_record_their_jobs_together(SystemFixture system) : IntegrationContext(system)
{
    private IDocumentStore Store => System.Core.Services.GetRequiredService<IDocumentStore>();

    private async Task<Guid[]> QueuedJobsAsync(int count)
    {
        var ids = Enumerable.Range(0, count).Select(_ => Guid.NewGuid()).ToArray();
        await using var session = Store.LightweightSession();
        foreach (var id in ids)
            session.Events.StartStream<Job>(id, new JobQueued(id, Guid.NewGuid(), System.Tenant.Id, System.Email.Id, System.Email.Name,
                JsonSerializer.SerializeToElement(new { }), DateTimeOffset.UtcNow, null));
        await session.SaveChangesAsync();
        return ids;
    }

    private static JobJournal.Decide Start(string worker) => job => JobLifecycle.OnPickUp(job, worker, DateTimeOffset.UtcNow) is PickUp.Send send ? send.Events : [];

    [Fact]
    public async Task concurrent_writes_share_commits_and_each_caller_waits_for_its_own()
    {
        var jobs = await QueuedJobsAsync(40);
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);

        await Task.WhenAll(jobs.Select(id => journal.AppendAsync(id, Start("together"))));

        await using var session = Store.QuerySession();
        var loaded = await session.LoadManyAsync<Job>(jobs);
        Assert.Equal(40, loaded.Count);
        Assert.All(loaded, job => Assert.Equal(JobState.Started, job.State));
        // xmin is the id of the transaction that wrote the row: fewer of them than writes means shared commits.
        var commits = await Sql.ScalarAsync<long>($"select count(distinct xmin::text) from ns.mt_events where type = 'job_started' and stream_id in ({string.Join(",", jobs.Select(j => $"'{j}'"))})");
        Assert.InRange(commits, 1, 10);
    }

    [Fact]
    public async Task a_write_that_fails_fails_alone()
    {
        var jobs = await QueuedJobsAsync(10);
        var broken = jobs[3];
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);

        var writes = jobs.Select(id => journal.AppendAsync(id, id == broken ? _ => throw new InvalidOperationException("broken decision") : Start("alone"))).ToArray();
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => writes[3]);
        Assert.Equal("broken decision", failure.Message);
        await Task.WhenAll(writes.Where((_, i) => i != 3));

        await using var session = Store.QuerySession();
        var loaded = (await session.LoadManyAsync<Job>(jobs)).ToDictionary(j => j.Id);
        Assert.Equal(JobState.Queued, loaded[broken].State);
        Assert.All(jobs.Where(j => j != broken), id => Assert.Equal(JobState.Started, loaded[id].State));
    }

    [Fact]
    public async Task two_writes_to_one_job_in_one_batch_both_commit_one_after_the_other()
    {
        var jobs = await QueuedJobsAsync(8);
        var twice = jobs[5];
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var appended = new int[2];
        JobJournal.Decide Counting(int slot) => job =>
        {
            var events = Start($"writer-{slot}")(job);
            appended[slot] = events.Count;
            return events;
        };

        await Task.WhenAll(jobs.Where(id => id != twice).Select(id => journal.AppendAsync(id, Start("other")))
            .Append(journal.AppendAsync(twice, Counting(0))).Append(journal.AppendAsync(twice, Counting(1))));

        await using var session = Store.QuerySession();
        var stream = await session.Events.FetchStreamAsync(twice);
        Assert.True(appended[0] > 0 && appended[1] > 0);
        Assert.Equal(1 + appended[0] + appended[1], stream.Count); // queued, then each writer's events
        Assert.Equal(Enumerable.Range(1, stream.Count).Select(v => (long)v), stream.Select(e => e.Version));
    }
}
