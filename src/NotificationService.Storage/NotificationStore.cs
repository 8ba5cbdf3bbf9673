using JasperFx.Events.Projections;
using Marten;
using Npgsql;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Weasel.Core;
using Weasel.Postgresql.Tables;

namespace NotificationService.Storage;

public static class NotificationStore
{
    public const string Schema = "ns";

    /// <summary>
    /// The adapters' send-rate slots (Adapters.Runtime SendRateLimiter), one row per adapter. A Weasel table in Marten's
    /// extended schema objects, so the core's migration creates it and Marten's db-apply/db-assert/db-patch know it; a
    /// worker's database role may not create tables, only use this one (WorkerRole).
    /// </summary>
    public const string SendSlotsTable = Schema + ".adapter_send_slots";

    /// <summary>
    /// A job not yet ended, in SQL on <c>mt_doc_job</c>: what the core's pending-jobs quota counts (through a partial index).
    /// Spelt as PostgreSQL prints it back, so Marten's schema check sees the index unchanged instead of rebuilding it.
    /// </summary>
    public const string PendingJobsPredicate = "((data ->> 'state'::text) = ANY (ARRAY['Scheduled'::text, 'Queued'::text, 'Started'::text]))";

    /// <summary>A job waiting for a worker (Queued), in SQL on <c>mt_doc_job</c>, spelt as PostgreSQL prints it back (as above).</summary>
    public const string WaitingJobsPredicate = "((data ->> 'state'::text) = 'Queued'::text)";

    /// <summary>A job not yet handed to a worker (Scheduled or Queued), which an expiry can still end; spelt as above.</summary>
    public const string NotYetSentPredicate = "((data ->> 'state'::text) = ANY (ARRAY['Scheduled'::text, 'Queued'::text]))";

    /// <summary>
    /// How every process talks to PostgreSQL, measured by `./ns bench --profile`:
    /// <list type="bullet">
    /// <item>No reset on close: Npgsql resets a pooled connection with DISCARD ALL when it is reused, which PostgreSQL runs
    /// as a transaction of its own (about seven per delivered job, half of all commits). Nothing here sets session state
    /// on a pooled connection: the only advisory locks in pg_stat_statements are transaction-scoped (pg_try_advisory_xact_lock).</item>
    /// <item>No automatic preparation (Max Auto Prepare = 0), although it halved PostgreSQL's CPU per job (3.05 -> 1.65
    /// ms): when binding a statement's parameters fails on the very execution that auto-prepares it (a value PostgreSQL
    /// refuses), Npgsql 9 keeps the statement as prepared without its rows' description and hands the connection back to
    /// the pool out of step ("unexpected backend message DataRow", then "prepared statement "_auto0" does not exist"), so
    /// one tenant's failed request broke another's (npgsql/npgsql#6391, still open). The repeated statements are
    /// prepared explicitly instead (<see cref="PreparedStatements"/>), which that failure cannot put out of step.</item>
    /// <item>random_page_cost 1.1 instead of PostgreSQL's 4, which models a disk where a random read costs four sequential
    /// ones. The hot pages here are in memory or on SSD, and the JSON filters cost far more CPU per row than the planner
    /// assumes, so with 4 it preferred walking the createdAt index (or the table) and filtering out 90 % of a million jobs
    /// over an index range of exactly the matches: 16-30 ms against 1-2 ms (bench/README.md, "Reads at a million jobs,
    /// step 2"). Per connection, so every database the service runs on plans alike without a server setting; the
    /// environment variable <see cref="RandomPageCostVariable"/> chooses another value, or, empty, sends none (a server
    /// or role setting then holds, and PgBouncer, which refuses unknown startup parameters, accepts the connection).</item>
    /// </list>
    /// </summary>
    public static string PooledConnectionString(string connectionString) =>
        PooledConnectionString(connectionString, Environment.GetEnvironmentVariable(RandomPageCostVariable) ?? "1.1");

    /// <summary>The environment variable (core and workers alike) that sets random_page_cost per connection.</summary>
    public const string RandomPageCostVariable = "NS_RANDOM_PAGE_COST";

    /// <param name="randomPageCost">The random_page_cost every connection starts with; empty or blank for none.</param>
    public static string PooledConnectionString(string connectionString, string randomPageCost)
    {
        // Forced over the configured string, not defaults: a Max Auto Prepare there would bring #6391 back (above).
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true, MaxAutoPrepare = 0 };
        if (!string.IsNullOrWhiteSpace(randomPageCost) && builder.Options?.Contains("random_page_cost") != true)
        {
            if (!double.TryParse(randomPageCost, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var cost) || cost <= 0)
                throw new InvalidOperationException($"{RandomPageCostVariable} must be a positive number or empty, not '{randomPageCost}'.");
            builder.Options = $"{builder.Options} -c random_page_cost={cost.ToString(System.Globalization.CultureInfo.InvariantCulture)}".Trim();
        }
        return builder.ConnectionString;
    }

    /// <summary>
    /// The Marten configuration the core and every worker share, so that an event appended by either updates the
    /// same inline projections in the same transaction.
    /// </summary>
    public static StoreOptions UseNotificationStore(this StoreOptions opts, string connectionString)
    {
        opts.Connection(PooledConnectionString(connectionString));
        opts.DatabaseSchemaName = Schema;
        opts.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
        // The job's state column holds the name, as the JSON does: every query on it compares with a name.
        opts.Advanced.DuplicatedFieldEnumStorage = EnumStorage.AsString;
        opts.Events.MetadataConfig.HeadersEnabled = false;
        // The worker appends with an expected version only (JobJournal), the core after locking the stream row (FOR UPDATE).
        // Without this mt_quick_append_events read the version unlocked, inserted the events and only then locked the row:
        // a worker's insert and the core's locked append then waited on each other until PostgreSQL's deadlock detector
        // failed one after deadlock_timeout (1 s), leaving a sequence gap. With it the function reads the version FOR
        // UPDATE first, so a worker waits for the core's commit and fails its version check before inserting (or taking a
        // sequence number). It costs nothing measurable: the function locked the same row later in the same transaction.
        opts.Events.UseExclusiveLockOnConcurrentAppends = true;

        // Columns of their own, with no index on any of them alone (which Schema.For<Job>().Duplicate always adds): they lead
        // or fill the composite indexes below. A policy runs as the mapping is built, before the registry's indexes, which
        // then see the columns. The service, state and adapter name are what the job searches filter on: as columns, a
        // search's bounded count (JobFilter.MatchIdsSql) is an index-only scan of its index, where over the JSON it had to
        // read a heap row per match, up to 1,001 of them on as many pages, because PostgreSQL answers from an expression
        // index only if the query needs nothing but the indexed columns, and the expression needs data (bench/README.md,
        // "Job searches: the count from the index alone"). finished_at's only index is the retention sweep's.
        opts.Policies.ForAllDocuments(mapping =>
        {
            if (mapping.DocumentType != typeof(Job)) return;
            foreach (var member in new[] { nameof(Job.CreatedAt), nameof(Job.FinishedAt), nameof(Job.ServiceId), nameof(Job.State), nameof(Job.AdapterName) })
                mapping.DuplicateField(member);
        });
        // Inline: every append of a job's events stores the job in the same transaction. The hot paths (an offer's new jobs,
        // the worker's start and outcome) do both in one statement of their own (JobStreamAppend), the rest through Marten.
        opts.Projections.Snapshot<Job>(SnapshotLifecycle.Inline);
        // The job's times are columns of their own (Marten's duplicated fields, written from the document on every upsert)
        // rather than expressions over data: Marten's expression for a time calls mt_immutable_timestamptz, a SQL function
        // PostgreSQL cannot inline (its body is only STABLE), so each of the eight index entries with a time planned and ran
        // that function on every write of a job, three writes per job (Job keeps them in UTC, which Npgsql requires of a
        // timestamptz; a query's bound on them must be UTC too). pgbench, one client, an insert with these indexes:
        // 0.38-0.46 ms as expressions, 0.18-0.21 ms with the three times as columns (bench/README.md, "Index expressions
        // that call a function"). Queries name the columns (JobFilter, AdapterLiveness, RetentionSweeper, RedriveJobs, ExpirySweeper).
        opts.Schema.For<Job>()
            // The id follows the time in its index (created_at is a column by the policy above): the page's whole order,
            // and an admin search by time alone counts from it.
            .Index([x => x.CreatedAt, x => x.Id], i => i.Name = "mt_doc_job_idx_created_at")
            // The expiry sweep's search (ExpirySweeper): only the jobs an expiry can still end are in it, so a sweep reads
            // what waits, not every job whose expiry passed long after it ended (70 ms a sweep, every 5 s, with 300,000 of
            // them; bench/README.md, "A background query that read every job"), and a job's later writes skip the index.
            .Duplicate(x => x.ExpireAt, configure: i => (i.Name, i.Predicate) = ("mt_doc_job_idx_expire_at_not_sent", NotYetSentPredicate))
            // The retention sweep's search, one service at a time, for ended jobs whose params are due for erasure. The
            // service comes first: on finished_at alone, a service with a short params retention walked every other
            // service's jobs still inside their longer one. Partial, so the jobs already erased (most of those kept, once
            // they are older than the params retention) are not in it, nor the jobs not yet ended (every search bounds
            // finished_at, which implies it is not null). finished_at is duplicated without an index of its own (above).
            .Index([x => x.ServiceId, x => x.FinishedAt!], i => (i.Name, i.Predicate) = ("mt_doc_job_idx_service_finished_unerased",
                "finished_at IS NOT NULL AND (data ->> 'paramsErasedAt') IS NULL"))
            // The admin search by state across services, in the page's order (it was on the state alone).
            .Index([x => x.State, x => x.CreatedAt, x => x.Id], i => i.Name = "mt_doc_job_idx_state_created")
            .Index(x => x.OfferId)
            // Each offer counts its service's unfinished jobs (the pending-jobs quota): only those are in this index.
            .Index(x => x.ServiceId, i => { i.Name = "mt_doc_job_idx_pending_service"; i.Predicate = PendingJobsPredicate; })
            // GET /v1/jobs pages a service's jobs newest first by keyset on (createdAt, id): one index range scan, read
            // backwards, whatever the page's depth. It also serves every lookup by service alone (it replaced that index).
            .Index([x => x.ServiceId, x => x.CreatedAt, x => x.Id], i => i.Name = "mt_doc_job_idx_service_created")
            // The same with a state filter (?state=Failed is the common question, and a rare state would otherwise walk
            // every job of the service); offerId is selective on its own index, createdFrom/To bound the range above.
            .Index([x => x.ServiceId, x => x.State, x => x.CreatedAt, x => x.Id], i => i.Name = "mt_doc_job_idx_service_state_created")
            // And with an adapter filter: through the index above, ?adapter=<a name this service never used> read every one
            // of its jobs to find none (and a rare adapter nearly as many); here it is one range scan, empty or in order.
            // The state rides along, so a search by service, adapter and state counts from this index alone too.
            .Index([x => x.ServiceId, x => x.AdapterName, x => x.CreatedAt, x => x.Id],
                i => (i.Name, i.IncludeColumns) = ("mt_doc_job_idx_service_adapter_created", ["state"]))
            // The admin search by adapter across services (and an adapter's unfinished jobs before it is deleted): one range
            // in the page's order. Without it a page and its bounded count walked the createdAt index or the table and
            // evaluated the JSON filter on ten rows per match (bench/README.md, "Reads at a million jobs, step 2"). It
            // replaced the index on adapterId alone, which nothing needed once DeleteAdapter asks by name too. With the state
            // along, as above, for a search by adapter and state.
            .Index([x => x.AdapterName, x => x.CreatedAt, x => x.Id], i => (i.Name, i.IncludeColumns) = ("mt_doc_job_idx_adapter_created", ["state"]))
            // The admin API's oldest waiting job of each adapter: the first entry of this range, only Queued jobs in it.
            .Index([x => x.AdapterId, x => x.CreatedAt], i => (i.Name, i.Predicate) = ("mt_doc_job_idx_adapter_waiting", WaitingJobsPredicate));

        opts.Projections.Snapshot<Adapter>(SnapshotLifecycle.Inline);
        opts.Schema.For<Adapter>().UniqueIndex(x => x.Name).UniqueIndex(x => x.KeyHash);

        var sendSlots = new Table(SendSlotsTable);
        sendSlots.AddColumn<Guid>("adapter_id").AsPrimaryKey();
        sendSlots.AddColumn("next_slot", "timestamptz").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(sendSlots);
        opts.Storage.ExtendedSchemaObjects.Add(WorkerHeartbeats.Definition());
        opts.Storage.ExtendedSchemaObjects.Add(JobStreamAppend.WriteJobFunction());
        return opts;
    }
}
