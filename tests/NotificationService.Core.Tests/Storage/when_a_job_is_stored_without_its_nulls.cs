using System.Text.Json;
using Marten;
using Npgsql;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// The job's and the offer's stored JSON leave out null members and the job's computed ones (written three times per job,
/// they were a quarter of its document). A missing key must read back as the null it stands for: in the document Marten
/// loads, and in SQL, where Marten's queries, the sweeps' own SQL and the indexes' predicates ask <c>data ->> 'key' IS NULL</c>.
/// Documents stored before keep their null keys, so both shapes must answer the same.
/// </summary>
public sealed class when_a_job_is_stored_without_its_nulls : IAsyncLifetime
{
    private static readonly JsonElement Params = JsonDocument.Parse("""{"to":"a@example.test","cc":null}""").RootElement.Clone();
    private readonly ScratchSchema _schema = new("nulls");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _schema.DisposeAsync();

    private static Job Queued() => new()
    {
        Id = Guid.NewGuid(), OfferId = Guid.NewGuid(), ServiceId = Guid.NewGuid(), AdapterId = Guid.NewGuid(), AdapterName = "mail",
        Params = Params, State = JobState.Queued, CreatedAt = DateTimeOffset.UtcNow, Version = 1,
    };

    private static Dictionary<string, JsonElement> Keys(string json) => JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

    [Fact]
    public void a_new_jobs_json_has_no_null_or_computed_members_and_reads_back_the_same()
    {
        var serializer = _schema.Store().Options.Serializer();
        var job = Queued();

        var json = serializer.ToJson(job);

        var keys = Keys(json);
        Assert.DoesNotContain(keys, k => k.Value.ValueKind == JsonValueKind.Null);
        Assert.DoesNotContain(keys.Keys, k => k is "isTerminal" or "isPending" or "isInFlight");
        // The params are the client's: a null inside them is kept as it was given.
        Assert.Equal(JsonValueKind.Null, keys["params"].GetProperty("cc").ValueKind);
        var read = serializer.FromJson<Job>(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Equal(json, serializer.ToJson(read));
        Assert.Null(read.LastError);
        Assert.Null(read.FinishedAt);
        Assert.True(read.IsPending);
    }

    [Fact]
    public void every_member_that_is_set_is_kept()
    {
        var serializer = _schema.Store().Options.Serializer();
        var now = DateTimeOffset.UtcNow;
        var job = Queued();
        (job.SendAt, job.ExpireAt, job.StartedAt, job.FinishedAt, job.ParamsErasedAt) = (now, now, now, now, now);
        (job.LastError, job.LastErrorAttempt, job.LastErrorDetail) = ("Timeout", 2, "no answer");
        (job.FallbackOf, job.FellBackTo, job.RoutedFrom) = (Guid.NewGuid(), Guid.NewGuid(), "sms");

        var keys = Keys(serializer.ToJson(job));

        Assert.All(new[] { "sendAt", "expireAt", "startedAt", "finishedAt", "paramsErasedAt", "lastError", "lastErrorAttempt", "lastErrorDetail", "fallbackOf", "fellBackTo", "routedFrom" },
            key => Assert.True(keys.ContainsKey(key), $"{key} was left out though it was set"));
    }

    [Fact]
    public void a_new_offers_json_has_no_null_members()
    {
        var serializer = _schema.Store().Options.Serializer();
        var offer = new Offer { Id = Guid.NewGuid(), ServiceId = Guid.NewGuid(), CreatedAt = DateTimeOffset.UtcNow, Jobs = [new OfferJob(Guid.NewGuid(), Guid.NewGuid(), "mail")] };

        var json = serializer.ToJson(offer);

        Assert.DoesNotContain(Keys(json), k => k.Value.ValueKind == JsonValueKind.Null);
        Assert.DoesNotContain(Keys(Keys(json)["jobs"][0].GetRawText()), k => k.Value.ValueKind == JsonValueKind.Null);
        var read = serializer.FromJson<Offer>(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Null(read.Metadata);
        Assert.Null(read.Chains);
        Assert.Null(Assert.Single(read.Jobs).Template);
        Assert.Equal(json, serializer.ToJson(read));
    }

    [Fact]
    public void every_offer_member_that_is_set_is_kept()
    {
        var serializer = _schema.Store().Options.Serializer();
        var now = DateTimeOffset.UtcNow;
        var offer = new Offer
        {
            Id = Guid.NewGuid(), ServiceId = Guid.NewGuid(), CreatedAt = now, ExpireAt = now, SendAt = now, DeletedAt = now, ErasedAt = now,
            Metadata = new() { ["customer"] = "c1" }, CallbackUrl = "https://example.test/cb", Chains = [],
            Jobs = [new OfferJob(Guid.NewGuid(), Guid.NewGuid(), "mail", new TemplateUse("welcome", 1, "en"))],
        };

        var keys = Keys(serializer.ToJson(offer));

        Assert.All(new[] { "expireAt", "sendAt", "deletedAt", "erasedAt", "metadata", "callbackUrl", "chains" },
            key => Assert.True(keys.ContainsKey(key), $"{key} was left out though it was set"));
        Assert.True(keys["jobs"][0].TryGetProperty("template", out _), "the job's template was left out though it was set");
    }

    [Fact]
    public async Task queries_on_null_find_a_job_without_the_key_as_one_stored_with_it()
    {
        var store = _schema.Store();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var (missing, storedNull, fellBack) = (Queued(), Queued(), Queued());
        fellBack.FellBackTo = Guid.NewGuid();
        foreach (var job in new[] { missing, storedNull, fellBack }) (job.ServiceId, job.State, job.FinishedAt) = (missing.ServiceId, JobState.Finished, DateTimeOffset.UtcNow);
        await using (var session = store.LightweightSession())
        {
            session.Store(missing, storedNull, fellBack);
            await session.SaveChangesAsync();
        }
        // As a version before this one stored it: every null member a key of its own.
        await _schema.ExecuteAsync($$"""
            UPDATE {{_schema.Name}}.mt_doc_job SET data = data || '{"lastError":null,"paramsErasedAt":null,"fellBackTo":null,"sendAt":null,"isTerminal":true}'::jsonb WHERE id = $1
            """, storedNull.Id);

        await using var query = store.QuerySession();
        var neverFailed = await query.Query<Job>().Where(j => j.ServiceId == missing.ServiceId && j.LastError == null && j.ParamsErasedAt == null && j.SendAt == null)
            .Select(j => j.Id).ToListAsync();
        Assert.Equal(new[] { missing.Id, storedNull.Id, fellBack.Id }.Order(), neverFailed.Order());
        Assert.Equal([fellBack.Id], await query.Query<Job>().Where(j => j.ServiceId == missing.ServiceId && j.FellBackTo != null).Select(j => j.Id).ToListAsync());
        // The raw SQL of the retention sweep, erasure and re-drive, and the retention index's predicate, ask the same way.
        await using (var connection = new NpgsqlConnection(ScratchTable.Postgres))
        {
            await connection.OpenAsync();
            await using var unerased = new NpgsqlCommand(
                $"SELECT id FROM {_schema.Name}.mt_doc_job WHERE service_id = $1 AND finished_at IS NOT NULL AND data->>'paramsErasedAt' IS NULL", connection);
            unerased.Parameters.Add(new NpgsqlParameter { Value = missing.ServiceId });
            var ids = new List<Guid>();
            await using (var reader = await unerased.ExecuteReaderAsync())
                while (await reader.ReadAsync()) ids.Add(reader.GetGuid(0));
            Assert.Equal(new[] { missing.Id, storedNull.Id, fellBack.Id }.Order(), ids.Order());
        }
        var loaded = (await query.LoadAsync<Job>(storedNull.Id))!;
        Assert.Null(loaded.LastError);
        Assert.True(loaded.IsTerminal);
    }
}
