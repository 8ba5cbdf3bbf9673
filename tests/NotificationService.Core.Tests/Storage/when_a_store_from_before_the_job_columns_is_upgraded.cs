using Marten;
using Npgsql;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// A deployment upgraded from a version that kept the job's times, service, state and adapter name only in its JSON, with
/// indexes over expressions (the times' calling mt_immutable_timestamptz): the core's migration at start adds the columns,
/// fills them from every stored job and moves the indexes onto them, so the jobs stored before are found as before. In a
/// schema of the test's own (the same configuration, another schema name), so the store the other tests share is left alone.
/// </summary>
public sealed class when_a_store_from_before_the_job_columns_is_upgraded : IAsyncLifetime
{
    private static readonly System.Text.Json.JsonElement NoParams = System.Text.Json.JsonDocument.Parse("{}").RootElement.Clone();
    private readonly ScratchSchema _schema = new("upgrade");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _schema.DisposeAsync();

    [Fact]
    public async Task the_jobs_stored_before_get_their_columns_and_the_indexes_use_them()
    {
        var before = _schema.Store();
        await before.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // The table as the versions before left it: none of these columns, the indexes over the JSON. Dropping a column drops
        // the indexes on it too, so three of the old expression indexes are put back here to stand for the rest.
        await _schema.ExecuteAsync($"""
            ALTER TABLE {_schema.Name}.mt_doc_job DROP COLUMN created_at, DROP COLUMN expire_at, DROP COLUMN finished_at,
              DROP COLUMN service_id, DROP COLUMN state, DROP COLUMN adapter_name;
            CREATE INDEX mt_doc_job_idx_state ON {_schema.Name}.mt_doc_job ((data ->> 'state'));
            CREATE INDEX mt_doc_job_idx_service_adapter_created ON {_schema.Name}.mt_doc_job (((data ->> 'serviceId')::uuid), (data ->> 'adapterName'));
            CREATE INDEX mt_doc_job_idx_created_at ON {_schema.Name}.mt_doc_job ({_schema.Name}.mt_immutable_timestamptz(data ->> 'createdAt'));
            CREATE INDEX mt_doc_job_idx_finished_at_unerased ON {_schema.Name}.mt_doc_job ({_schema.Name}.mt_immutable_timestamptz(data ->> 'finishedAt'))
              WHERE (data ->> 'paramsErasedAt') IS NULL;
            """);
        // Whole microseconds, which PostgreSQL keeps exactly.
        var created = new DateTimeOffset(2026, 11, 3, 9, 15, 42, TimeSpan.FromHours(3)).AddTicks(1_234_560);
        var job = new Job
        {
            Id = Guid.NewGuid(), OfferId = Guid.NewGuid(), ServiceId = Guid.NewGuid(), AdapterId = Guid.NewGuid(), AdapterName = "old", Params = NoParams,
            State = JobState.Finished, CreatedAt = created, ExpireAt = created.AddHours(1), StartedAt = created.AddSeconds(1),
            FinishedAt = created.AddSeconds(2), Attempts = 1, Version = 3,
        };
        await _schema.ExecuteAsync($"INSERT INTO {_schema.Name}.mt_doc_job (id, data, mt_dotnet_type, mt_version) VALUES ($1, $2::jsonb, $3, 3)",
            job.Id, before.Options.Serializer().ToJson(job), typeof(Job).FullName!);

        var upgraded = _schema.Store();
        await upgraded.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // Migrated once: a start after it finds nothing to change (no index rebuilt on every start).
        await _schema.Store().Storage.Database.AssertDatabaseMatchesConfigurationAsync();

        await using (var connection = new NpgsqlConnection(ScratchTable.Postgres))
        {
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand(
                $"SELECT created_at, expire_at, finished_at, service_id, state, adapter_name FROM {_schema.Name}.mt_doc_job WHERE id = $1", connection);
            read.Parameters.Add(new NpgsqlParameter { Value = job.Id });
            await using var reader = await read.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(job.CreatedAt, reader.GetFieldValue<DateTimeOffset>(0));
            Assert.Equal(job.ExpireAt, reader.GetFieldValue<DateTimeOffset>(1));
            Assert.Equal(job.FinishedAt, reader.GetFieldValue<DateTimeOffset>(2));
            Assert.Equal((job.ServiceId, "Finished", "old"), (reader.GetGuid(3), reader.GetString(4), reader.GetString(5)));
        }

        // Marten's queries on those members read the columns, and find the job stored before the upgrade.
        await using (var session = upgraded.QuerySession())
        {
            Assert.Equal([job.Id], await session.Query<Job>().Where(j => j.ExpireAt <= created.AddHours(2).ToUniversalTime()).Select(j => j.Id).ToListAsync());
            Assert.Empty(await session.Query<Job>().Where(j => j.FinishedAt < created.ToUniversalTime()).Select(j => j.Id).ToListAsync());
            Assert.Equal([job.Id], await session.Query<Job>()
                .Where(j => j.ServiceId == job.ServiceId && j.State == JobState.Finished && j.AdapterName == "old").Select(j => j.Id).ToListAsync());
        }

        // The old document, loaded and written again as the projection does with its next event: its expiry, stored with
        // the client's +03:00, goes to the column in UTC (Npgsql refuses any other offset for timestamptz).
        await using (var session = upgraded.LightweightSession())
        {
            var stored = (await session.LoadAsync<Job>(job.Id))!;
            Assert.Equal((job.ExpireAt, TimeSpan.Zero), (stored.ExpireAt, stored.ExpireAt!.Value.Offset));
            stored.Attempts++;
            session.Store(stored);
            await session.SaveChangesAsync();
        }

        // No index of the job table calls a function per write any more; the time indexes are on the columns.
        var indexes = await _schema.IndexDefinitionsAsync("mt_doc_job");
        Assert.DoesNotContain(indexes, d => d.Contains("mt_immutable_timestamptz"));
        Assert.Contains(indexes, d => d.Contains("mt_doc_job_idx_created_at") && d.EndsWith("(created_at, id)"));
        // finished_at is indexed only behind the service (the retention sweep's search, one service at a time).
        Assert.Contains(indexes, d => d.Contains("mt_doc_job_idx_service_finished_unerased")
                                      && d.Contains("(service_id, finished_at)") && d.Contains("finished_at IS NOT NULL"));
        Assert.DoesNotContain(indexes, d => d.Contains("mt_doc_job_idx_finished_at_unerased"));
        // The searches' indexes are on the columns (the state carried in the adapter's, for a count from that index alone),
        // and the index on the state alone is gone for the state's in the page's order.
        Assert.Contains(indexes, d => d.Contains("mt_doc_job_idx_service_adapter_created") && d.EndsWith("(service_id, adapter_name, created_at, id) INCLUDE (state)"));
        Assert.Contains(indexes, d => d.Contains("mt_doc_job_idx_state_created") && d.EndsWith("(state, created_at, id)"));
        Assert.DoesNotContain(indexes, d => d.Contains("mt_doc_job_idx_state ") || d.Contains("data ->> 'serviceId'") || d.Contains("data ->> 'adapterName'"));
    }

    [Fact]
    public async Task a_job_written_through_marten_fills_the_columns_from_the_document()
    {
        var store = _schema.Store();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        // 100 ns digits: Npgsql drops them for the column, as it does for any time passed as a parameter, so a query's
        // bound made from the document's time and the column agree.
        var created = DateTimeOffset.UtcNow.AddTicks(7);
        var job = new Job { Id = Guid.NewGuid(), State = JobState.Queued, CreatedAt = created, AdapterName = "new", Params = NoParams };
        await using (var session = store.LightweightSession())
        {
            session.Store(job);
            await session.SaveChangesAsync();
        }

        await using var query = store.QuerySession();
        Assert.Equal([job.Id], await query.Query<Job>().Where(j => j.CreatedAt >= created && j.CreatedAt <= created).Select(j => j.Id).ToListAsync());
        // The state as its name, as the JSON has it, which every query on the column compares with.
        await using (var connection = new NpgsqlConnection(ScratchTable.Postgres))
        {
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand($"SELECT service_id, state, adapter_name FROM {_schema.Name}.mt_doc_job WHERE id = $1", connection);
            read.Parameters.Add(new NpgsqlParameter { Value = job.Id });
            await using var reader = await read.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal((Guid.Empty, "Queued", "new"), (reader.GetGuid(0), reader.GetString(1), reader.GetString(2)));
        }
        Assert.Empty(await query.Query<Job>().Where(j => j.ExpireAt != null || j.FinishedAt != null).Select(j => j.Id).ToListAsync());
    }
}
