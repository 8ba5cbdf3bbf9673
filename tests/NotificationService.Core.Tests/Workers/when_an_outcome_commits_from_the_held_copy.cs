using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Marten;
using Marten.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NotificationService.Adapters.Runtime;
using NotificationService.Contracts;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Workers;

/// <summary>
/// The outcome's commit decides from the worker's held copy, so it reads nothing, and appends the events and stores the
/// job they make in one statement (JobStreamAppend), where Marten's append and inline projection send two. Counted from
/// the statements Marten sends for the journal's own session, and checked against what Marten's live aggregation of the
/// stream says the job is (version included), for each way an attempt ends: finished, retried, failed after its retries;
/// and the row's columns against what Marten writes.
/// </summary>
public sealed class when_an_outcome_commits_from_the_held_copy(SystemFixture system) : IntegrationContext(system)
{
    /// <summary>The shared email worker's store, as a worker's journal writes (its database role, its listeners).</summary>
    private IDocumentStore Store => System.EmailWorker.Services.GetRequiredService<IDocumentStore>();

    /// <summary>The core's, which starts the jobs and cancels them.</summary>
    private IDocumentStore CoreStore => System.Core.Services.GetRequiredService<IDocumentStore>();

    private async Task<Guid> QueuedJobAsync()
    {
        var id = Guid.NewGuid();
        await using var session = CoreStore.LightweightSession();
        session.Events.StartStream<Job>(id, new JobQueued(id, Guid.NewGuid(), System.Tenant.Id, System.Email.Id, System.Email.Name,
            JsonSerializer.SerializeToElement(new { to = "someone@example.com" }), DateTimeOffset.UtcNow, null));
        await session.SaveChangesAsync();
        return id;
    }

    /// <summary>A start as the worker commits it, and the statements its commit sent: returns the job the worker then holds.</summary>
    private async Task<(Job Held, List<string> Statements)> StartAsync(JobJournal journal, Guid id)
    {
        Job? held = null;
        var statements = await StatementsOfAsync(() => journal.AppendAsync(id, job =>
        {
            var started = Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "worker-under-test", DateTimeOffset.UtcNow)).Events;
            held = job!.AfterStart(started);
            return started;
        }));
        return (held!, statements);
    }

    /// <summary>An attempt's outcome as the worker commits it, from the held copy; the statements its commit sent.</summary>
    private async Task<(IReadOnlyList<object> Events, List<string> Statements)> OutcomeAsync(JobJournal journal, Job held, DeliveryResult result, DeliveryPolicy policy)
    {
        IReadOnlyList<object> recorded = [];
        var statements = await StatementsOfAsync(() => journal.AppendAsync(held.Id, job =>
            recorded = JobLifecycle.OnAttemptEnded(job!, held.Attempts, result, false, policy, DateTimeOffset.UtcNow, 0.5).Events, held));
        return (recorded, statements);
    }

    private static bool ReadsJobs(string sql) => sql.Contains("from ns.mt_doc_job", StringComparison.OrdinalIgnoreCase);

    /// <summary>The outcome's commit: one statement, the job's write (the append with the job's upsert), no read.</summary>
    private static void AssertAppendAndUpsertOnly(List<string> statements)
    {
        Assert.DoesNotContain(statements, ReadsJobs);
        var statement = Assert.Single(statements);
        Assert.StartsWith("select ns.write_job(", statement, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The stored job is what Marten's live aggregation of its events builds, version included: the stored JSON as it is
    /// in the row, against Marten's own serialization of that aggregation (the document Marten's projection would store).
    /// </summary>
    private async Task<Job> AssertStoredEqualsLiveAsync(Guid id)
    {
        await using var session = Store.QuerySession();
        var stored = await session.LoadAsync<Job>(id);
        var live = await session.Events.AggregateStreamAsync<Job>(id);
        Assert.NotNull(stored);
        var row = await RowAsync(id);
        var expected = JsonNode.Parse(Store.Options.Serializer().ToJson(live!));
        var actual = JsonNode.Parse((string)row["data"]!);
        Assert.True(JsonNode.DeepEquals(expected, actual), $"stored {actual}\nlive   {expected}");
        Assert.Equal(live!.Version, (long)row["mt_version"]!);
        return stored!;
    }

    [Fact]
    public async Task a_finished_job_is_committed_without_a_read_and_equals_its_live_aggregation()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var id = await QueuedJobAsync();
        var (held, starting) = await StartAsync(journal, id);
        // The start still reads its job, once (the recorder sees reads: this test can tell one from none).
        Assert.Single(starting, ReadsJobs);

        var (events, statements) = await OutcomeAsync(journal, held, new DeliveryResult.Delivered(), new DeliveryPolicy());

        Assert.IsType<JobFinished>(Assert.Single(events));
        AssertAppendAndUpsertOnly(statements);
        var stored = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Finished, 3L), (stored.State, stored.Version));
        Assert.Equal((JobState.Started, 2L), (held.State, held.Version)); // the outcome was applied to a copy
    }

    [Fact]
    public async Task the_row_holds_every_column_marten_writes_for_a_job_and_the_same_values()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var id = await QueuedJobAsync(); // stored by Marten's own append and inline projection
        var byMarten = await RowAsync(id);
        var (held, _) = await StartAsync(journal, id);
        await OutcomeAsync(journal, held, new DeliveryResult.Delivered(), new DeliveryPolicy());
        var stored = await AssertStoredEqualsLiveAsync(id);
        var row = await RowAsync(id);

        // Every column of the table is one the statement writes: a column Marten's mapping gains fails here first.
        Assert.Equal(byMarten.Keys.Order(), JobStreamAppend.Columns.Order());
        Assert.Equal(byMarten["mt_dotnet_type"], row["mt_dotnet_type"]);
        Assert.Equal((object)stored.Version, row["mt_version"]);
        Assert.Equal((byMarten["created_at"], byMarten["service_id"], byMarten["adapter_name"]), (row["created_at"], row["service_id"], row["adapter_name"]));
        Assert.Equal(((object)stored.Version, "Finished", (object?)null), (row["mt_version"], row["state"], row["expire_at"]));
        Assert.InRange((DateTime)row["finished_at"]! - stored.FinishedAt!.Value.UtcDateTime, TimeSpan.FromMicroseconds(-1), TimeSpan.FromMicroseconds(1));
        Assert.True((DateTime)row["mt_last_modified"]! > (DateTime)byMarten["mt_last_modified"]!);
        // The events as Marten's append stores them: type names, .NET types, tenant, versions 1 to 3.
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var events = await new NpgsqlCommand("SELECT version, type, mt_dotnet_type, tenant_id FROM ns.mt_events WHERE stream_id = $1 ORDER BY version", connection)
        { Parameters = { new() { Value = id } } }.ExecuteReaderAsync();
        var read = new List<string>();
        while (await events.ReadAsync()) read.Add($"{events.GetInt64(0)} {events.GetString(1)} {events.GetString(2)} {events.GetString(3)}");
        Assert.Equal([
            "1 job_queued NotificationService.Storage.Jobs.JobQueued, NotificationService.Storage *DEFAULT*",
            "2 job_started NotificationService.Storage.Jobs.JobStarted, NotificationService.Storage *DEFAULT*",
            "3 job_finished NotificationService.Storage.Jobs.JobFinished, NotificationService.Storage *DEFAULT*"], read);
    }

    [Fact]
    public async Task martens_appended_events_counter_counts_the_events_appended_in_one_statement()
    {
        var counted = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Marten" && instrument.Name == "marten.event.append") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var tagged = tags.ToArray().ToDictionary(t => t.Key, t => t.Value);
            counted.AddOrUpdate($"{tagged["event.type"]} {tagged["tenant.id"]}", value, (_, sum) => sum + value);
        });
        listener.Start();
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var id = await QueuedJobAsync();
        var (held, _) = await StartAsync(journal, id);
        Assert.Equal(1, counted.GetValueOrDefault("job_started *DEFAULT*"));

        await OutcomeAsync(journal, held, new DeliveryResult.Delivered(), new DeliveryPolicy());

        Assert.Equal(1, counted.GetValueOrDefault("job_finished *DEFAULT*"));
        Assert.Equal(1, counted.GetValueOrDefault("job_queued *DEFAULT*")); // through Marten's own append, for comparison
    }

    [Fact]
    public async Task a_commit_that_fails_after_an_append_took_its_sequence_numbers_leaves_tombstones_not_a_gap()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        Guid[] pair = [await QueuedJobAsync(), await QueuedJobAsync()];
        Array.Sort(pair); // the journal appends in job order: the first takes its sequence numbers before the second fails
        var (first, last) = ((await StartAsync(journal, pair[0])).Held, (await StartAsync(journal, pair[1])).Held);
        await using (var session = CoreStore.LightweightSession())
        {
            var current = await session.LoadAsync<Job>(last.Id);
            session.Events.Append(last.Id, [.. Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(current!, "tenant", DateTimeOffset.UtcNow)).Events]);
            await session.SaveChangesAsync();
        }
        var gateJob = await QueuedJobAsync();
        var highest = await HighestSequenceAsync();

        // Both outcomes queue behind a commit in flight, so they share the next commit, which fails on the stale one.
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var gate = journal.AppendAsync(gateJob, _ => { entered.Set(); release.Wait(TimeSpan.FromSeconds(30)); return []; });
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30)));
        var writes = new[] { first, last }.Select(job => journal.AppendAsync(job.Id, j =>
            JobLifecycle.OnAttemptEnded(j!, job.Attempts, new DeliveryResult.Delivered(), false, new DeliveryPolicy(), DateTimeOffset.UtcNow, 0.5).Events, job)).ToList();
        release.Set();
        await gate;
        await Task.WhenAll(writes);

        Assert.Equal(JobState.Finished, (await AssertStoredEqualsLiveAsync(first.Id)).State);
        Assert.Equal(JobState.Finished, (await AssertStoredEqualsLiveAsync(last.Id)).State); // delivered wins over the cancel
        // Every sequence number taken since has its row: the failed commit's are Marten's tombstones (written after it).
        var rows = await Eventually.Until(() => SequenceRowsAsync(highest), r => r.Taken == r.Rows, what: "a row for every sequence number");
        Assert.True(rows.Tombstones > 0, "the failed commit took sequence numbers");
    }

    [Fact]
    public async Task an_offers_job_stream_is_stored_as_marten_would_store_it()
    {
        // No worker for this adapter: the job stays as the accept stored it.
        var idle = await System.CreateEmailAdapterAsync($"idle-{Guid.NewGuid():N}"[..20], System.Smtp.Port);
        var offer = await System.CreateOfferAsync(System.Tenant, new { targets = new[] { ClientApi.EmailTarget(idle.Name, "never@example.test") } });
        var id = offer.Jobs[0].Id;

        var stored = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Queued, 1L, offer.Id), (stored.State, stored.Version, stored.OfferId));
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var reader = await new NpgsqlCommand("""
            SELECT s.type, s.version, s.tenant_id, s.is_archived, e.type, e.version, e.tenant_id
            FROM ns.mt_streams s JOIN ns.mt_events e ON e.stream_id = s.id WHERE s.id = $1
            """, connection) { Parameters = { new() { Value = id } } }.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("job", 1L, "*DEFAULT*", false, "job_queued", 1L, "*DEFAULT*"),
            (reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetBoolean(3), reader.GetString(4), reader.GetInt64(5), reader.GetString(6)));
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task a_failed_append_is_reported_for_its_own_job_as_martens_exceptions_say_it()
    {
        Guid[] pair = [await QueuedJobAsync(), await QueuedJobAsync()];
        Array.Sort(pair);
        Job[] jobs;
        await using (var query = Store.QuerySession()) jobs = [.. await query.LoadManyAsync<Job>(pair)];
        var (first, second) = (jobs.Single(j => j.Id == pair[0]), jobs.Single(j => j.Id == pair[1]));
        await using (var session = CoreStore.LightweightSession())
        {
            session.Events.Append(second.Id, [.. Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(second, "tenant", DateTimeOffset.UtcNow)).Events]);
            await session.SaveChangesAsync();
        }
        static JobStarted Started(Job job) => new(job.Id, 1, "worker-under-test", DateTimeOffset.UtcNow);

        // The second job as read before its cancel: its append fails, and the exception names it, not the first job,
        // whose append ran before it in the same batch.
        await using (var session = Store.LightweightSession())
        {
            session.QueueOperation(new JobStreamAppend(first, [Started(first)]));
            session.QueueOperation(new JobStreamAppend(second, [Started(second)]));
            var conflict = await Assert.ThrowsAsync<JasperFx.Events.EventStreamUnexpectedMaxEventIdException>(() => session.SaveChangesAsync());
            Assert.Contains(second.Id.ToString(), conflict.Message);
            Assert.DoesNotContain(first.Id.ToString(), conflict.Message);
        }
        // A new stream whose id exists: Marten's collision.
        await using (var session = Store.LightweightSession())
        {
            var queued = new JobQueued(first.Id, first.OfferId, first.ServiceId, first.AdapterId, first.AdapterName, first.Params, DateTimeOffset.UtcNow, null);
            session.QueueOperation(new JobStreamAppend(new Job { Id = first.Id }, [queued]));
            var collision = await Assert.ThrowsAsync<Marten.Exceptions.ExistingStreamIdCollisionException>(() => session.SaveChangesAsync());
            Assert.Contains(first.Id.ToString(), collision.Message);
        }
    }

    private static async Task<long> HighestSequenceAsync()
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        return (long)(await new NpgsqlCommand("SELECT last_value FROM ns.mt_events_sequence", connection).ExecuteScalarAsync())!;
    }

    private static async Task<(long Taken, long Rows, long Tombstones)> SequenceRowsAsync(long after)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var reader = await new NpgsqlCommand("""
            SELECT (SELECT last_value FROM ns.mt_events_sequence) - $1, count(*), count(*) FILTER (WHERE type = 'tombstone')
            FROM ns.mt_events WHERE seq_id > $1
            """, connection) { Parameters = { new() { Value = after } } }.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    private async Task<Dictionary<string, object?>> RowAsync(Guid id)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.Postgres);
        await connection.OpenAsync();
        await using var reader = await new NpgsqlCommand("SELECT * FROM ns.mt_doc_job WHERE id = $1", connection) { Parameters = { new() { Value = id } } }.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => reader.IsDBNull(i) ? null : reader.GetValue(i));
    }

    [Fact]
    public async Task a_retried_job_is_committed_without_a_read_at_each_outcome_and_equals_its_live_aggregation()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var id = await QueuedJobAsync();
        var (first, _) = await StartAsync(journal, id);
        var (retry, failing) = await OutcomeAsync(journal, first, new DeliveryResult.Transient("busy"), new DeliveryPolicy());
        Assert.IsType<JobAttemptFailed>(Assert.Single(retry));
        AssertAppendAndUpsertOnly(failing);
        var queued = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Queued, 3L), (queued.State, queued.Version));

        // The retry message's start reads the job again (it was not this commit's to hold), and its outcome does not.
        var (second, starting) = await StartAsync(journal, id);
        Assert.Single(starting, ReadsJobs);
        var (finished, statements) = await OutcomeAsync(journal, second, new DeliveryResult.Delivered(), new DeliveryPolicy());

        Assert.IsType<JobFinished>(Assert.Single(finished));
        AssertAppendAndUpsertOnly(statements);
        var stored = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Finished, 5L, 2, "busy"), (stored.State, stored.Version, stored.Attempts, stored.LastError));
    }

    [Fact]
    public async Task a_job_failed_after_its_retries_is_committed_without_a_read_and_equals_its_live_aggregation()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var policy = new DeliveryPolicy { MaxAttempts = 2 };
        var id = await QueuedJobAsync();
        var (first, _) = await StartAsync(journal, id);
        AssertAppendAndUpsertOnly((await OutcomeAsync(journal, first, new DeliveryResult.Transient("busy"), policy)).Statements);
        var (second, _) = await StartAsync(journal, id);

        var (failed, statements) = await OutcomeAsync(journal, second, new DeliveryResult.Transient("still busy"), policy);

        Assert.IsType<JobFailed>(Assert.Single(failed));
        AssertAppendAndUpsertOnly(statements);
        var stored = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Failed, 5L, 2), (stored.State, stored.Version, stored.Attempts));
    }

    [Fact]
    public async Task a_held_copy_that_went_stale_fails_its_commit_unchanged_and_the_job_is_read_again_under_its_lock()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var id = await QueuedJobAsync();
        var (held, _) = await StartAsync(journal, id);
        await using (var session = CoreStore.LightweightSession())
        {
            var current = await session.LoadAsync<Job>(id);
            session.Events.Append(id, [.. Assert.IsType<CancelDecision.Cancel>(JobLifecycle.OnCancel(current!, "tenant", DateTimeOffset.UtcNow)).Events]);
            await session.SaveChangesAsync();
        }

        var (events, statements) = await OutcomeAsync(journal, held, new DeliveryResult.Transient("busy"), new DeliveryPolicy());

        // The first commit (from the held copy) failed its append; the second read the job under the stream lock.
        Assert.IsType<JobCanceled>(Assert.Single(events));
        Assert.Single(statements, ReadsJobs);
        Assert.Equal((JobState.Started, 2L), (held.State, held.Version)); // the failed commit left it as it was
        var stored = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Canceled, 4L), (stored.State, stored.Version)); // queued, started, cancel requested, canceled
    }

    [Fact]
    public async Task held_outcomes_sharing_a_commit_with_another_jobs_start_read_only_that_job_and_each_equals_its_live_aggregation()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        Guid[] heldJobs = [await QueuedJobAsync(), await QueuedJobAsync(), await QueuedJobAsync()];
        var held = new List<Job>();
        foreach (var id in heldJobs) held.Add((await StartAsync(journal, id)).Held);
        var starting = await QueuedJobAsync();
        var gateJob = await QueuedJobAsync();
        var before = journal.Commits;

        // A commit in flight whose decision waits, so that every write below queues for the same next commit.
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var gate = journal.AppendAsync(gateJob, _ => { entered.Set(); release.Wait(TimeSpan.FromSeconds(30)); return []; });
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30)));
        var statements = await StatementsAboutAsync([.. heldJobs, starting], async () =>
        {
            var writes = held.Select(job => journal.AppendAsync(job.Id, j =>
                    JobLifecycle.OnAttemptEnded(j!, job.Attempts, new DeliveryResult.Delivered(), false, new DeliveryPolicy(), DateTimeOffset.UtcNow, 0.5).Events, job))
                .Append(journal.AppendAsync(starting, Start))
                .ToList();
            release.Set();
            await gate;
            await Task.WhenAll(writes);
        });

        Assert.Equal(2, journal.Commits - before); // the gate's, and one for the four writes queued behind it
        var read = Assert.Single(statements, s => ReadsJobs(s.Sql));
        Assert.Equal([starting], read.Jobs);
        Assert.Equal(heldJobs.Length + 1, statements.Count(s => s.Sql.Contains("write_job(")));
        foreach (var id in heldJobs)
        {
            var stored = await AssertStoredEqualsLiveAsync(id);
            Assert.Equal((JobState.Finished, 3L), (stored.State, stored.Version));
        }
        var started = await AssertStoredEqualsLiveAsync(starting);
        Assert.Equal((JobState.Started, 2L), (started.State, started.Version));
        Assert.All(held, job => Assert.Equal((JobState.Started, 2L), (job.State, job.Version)));

        static IReadOnlyList<object> Start(Job? job) =>
            Assert.IsType<PickUp.Send>(JobLifecycle.OnPickUp(job, "worker-under-test", DateTimeOffset.UtcNow)).Events;
    }

    [Fact]
    public async Task an_outcome_held_from_a_redelivered_start_counts_the_possible_duplicate_and_equals_its_live_aggregation()
    {
        var journal = new JobJournal(Store, NullLogger<JobJournal>.Instance);
        var id = await QueuedJobAsync();
        await StartAsync(journal, id);
        // The message redelivered while the job is Started (its worker died mid-send): a possible duplicate, then a start.
        var (held, starting) = await StartAsync(journal, id);
        Assert.Single(starting, ReadsJobs);
        Assert.Equal((1, 2, 4L), (held.PossibleDuplicates, held.Attempts, held.Version));

        var (events, statements) = await OutcomeAsync(journal, held, new DeliveryResult.Delivered(), new DeliveryPolicy());

        Assert.IsType<JobFinished>(Assert.Single(events));
        AssertAppendAndUpsertOnly(statements);
        var stored = await AssertStoredEqualsLiveAsync(id);
        Assert.Equal((JobState.Finished, 5L, 1, 2), (stored.State, stored.Version, stored.PossibleDuplicates, stored.Attempts));
    }

    /// <summary>
    /// The statements Marten sends for the sessions opened while <paramref name="action"/> runs in its own span (the
    /// journal opens a lone write's session in its caller's span), besides BEGIN and COMMIT. The store's logger is
    /// swapped for the time of the action; the collection's tests run one at a time.
    /// </summary>
    private async Task<List<string>> StatementsOfAsync(Func<Task> action) =>
        [.. (await RecordAsync(action, everySession: false)).Select(s => s.Sql)];

    /// <summary>
    /// The statements of any session that carry one of <paramref name="jobs"/> as a parameter, while <paramref
    /// name="action"/> runs: a shared commit runs in a span of its own, not its callers', so it is told apart by its jobs.
    /// </summary>
    private async Task<List<Statement>> StatementsAboutAsync(Guid[] jobs, Func<Task> action) =>
        [.. (await RecordAsync(action, everySession: true)).Where(s => s.Jobs.Intersect(jobs).Any())];

    private async Task<List<Statement>> RecordAsync(Func<Task> action, bool everySession)
    {
        var options = (StoreOptions)Store.Options;
        var original = options.Logger();
        using var span = new Activity("statements under test").Start();
        var recorder = new Recorder(original, everySession ? null : span);
        options.Logger(recorder);
        try
        {
            await action();
        }
        finally
        {
            options.Logger(original);
        }
        lock (recorder.Statements) return [.. recorder.Statements];
    }

    private sealed record Statement(string Sql, Guid[] Jobs);

    private static Guid[] JobsOf(NpgsqlParameterCollection parameters) =>
        [.. parameters.SelectMany(p => p.Value switch { Guid id => [id], System.Collections.IEnumerable ids and not string => ids.OfType<Guid>(), _ => [] })];

    /// <summary>Records the sessions started in <paramref name="span"/>, or every session when it is null.</summary>
    private sealed class Recorder(IMartenLogger inner, Activity? span) : IMartenLogger
    {
        public List<Statement> Statements { get; } = [];

        public IMartenSessionLogger StartSession(IQuerySession session) =>
            Within(Activity.Current) ? new SessionRecorder(this, inner.StartSession(session)) : inner.StartSession(session);

        public void SchemaChange(string sql) => inner.SchemaChange(sql);

        private bool Within(Activity? current)
        {
            if (span is null) return true;
            for (var a = current; a is not null; a = a.Parent)
                if (a == span) return true;
            return false;
        }

        public void Add(IEnumerable<Statement> statements)
        {
            lock (Statements) Statements.AddRange(statements);
        }
    }

    private sealed class SessionRecorder(Recorder recorder, IMartenSessionLogger inner) : IMartenSessionLogger
    {
        public void LogSuccess(NpgsqlCommand command) { recorder.Add([Of(command)]); inner.LogSuccess(command); }
        public void LogSuccess(NpgsqlBatch batch) { recorder.Add(Of(batch)); inner.LogSuccess(batch); }
        public void LogFailure(NpgsqlCommand command, Exception ex) { recorder.Add([Of(command)]); inner.LogFailure(command, ex); }
        public void LogFailure(NpgsqlBatch batch, Exception ex) { recorder.Add(Of(batch)); inner.LogFailure(batch, ex); }
        private static Statement Of(NpgsqlCommand command) => new(command.CommandText, JobsOf(command.Parameters));
        private static IEnumerable<Statement> Of(NpgsqlBatch batch) =>
            batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(c => new Statement(c.CommandText, JobsOf(c.Parameters)));
        public void LogFailure(Exception ex, string message) => inner.LogFailure(ex, message);
        public void RecordSavedChanges(IDocumentSession session, IChangeSet commit) => inner.RecordSavedChanges(session, commit);
        public void OnBeforeExecute(NpgsqlCommand command) => inner.OnBeforeExecute(command);
        public void OnBeforeExecute(NpgsqlBatch batch) => inner.OnBeforeExecute(batch);
    }
}
