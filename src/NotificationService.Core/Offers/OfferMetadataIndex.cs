using System.Data.Common;
using Marten;
using NotificationService.Core.Infrastructure;
using NotificationService.Storage;
using Weasel.Core;
using Weasel.Core.Migrations;
using Weasel.Postgresql.Functions;
using Weasel.Postgresql.Tables;
using Weasel.Postgresql.Triggers;

namespace NotificationService.Core.Offers;

/// <summary>
/// Every metadata pair of every offer as one row <c>(service_id, pair, created_at, offer_id)</c> of
/// <c>offer_metadata</c>, kept by triggers on the offer table, so that <c>GET /v1/offers?metadata.&lt;key&gt;=&lt;value&gt;</c>
/// reads one index range: the bounded total from the index alone and the page in order. Through the GIN index on the
/// metadata, a common value's total rechecked 1,001 offers and its page walked the service's offers until 50 matched
/// (bench/README.md, "Offers by one metadata pair"). The pair is the md5 of the one-pair JSON object, as a uuid: a value of
/// any length fits an index row (metadata values have no length limit).
/// </summary>
/// <remarks>
/// Triggers rather than the endpoints: every writer of offers (create, PATCH, erasure, retention's deletes, the
/// bench's and tests' SQL) keeps the rows without knowing of them, and no statement is added to the accept. An offer
/// without metadata costs the insert trigger's condition only.
/// </remarks>
public static class OfferMetadataIndex
{
    private const string Table = "offer_metadata";

    /// <summary>
    /// As a feature of its own, which Marten migrates after the document tables (its extended schema objects come before
    /// them, and the triggers need mt_doc_offer).
    /// </summary>
    public static StoreOptions AddOfferMetadataIndex(this StoreOptions opts)
    {
        opts.Storage.Add(new Feature(opts.DatabaseSchemaName, opts.Advanced.Migrator));
        return opts;
    }

    private sealed class Feature(string schema, Migrator migrator) : FeatureSchemaBase("OfferMetadataIndex", migrator)
    {
        protected override IEnumerable<ISchemaObject> schemaObjects()
        {
            var table = new Table($"{schema}.{Table}");
            table.AddColumn<Guid>("service_id").AsPrimaryKey();
            table.AddColumn<Guid>("pair").AsPrimaryKey();
            table.AddColumn("created_at", "timestamptz").AsPrimaryKey();
            table.AddColumn<Guid>("offer_id").AsPrimaryKey();
            yield return table;
            var functions = Functions(schema);
            foreach (var function in functions) yield return Function.ForSql(function);
            yield return new Triggers(schema, functions);
        }
    }

    /// <summary>Written as pg_get_functiondef prints them, which is what the schema check compares.</summary>
    private static string[] Functions(string schema) =>
    [
        // IMMUTABLE over jsonb_build_object (STABLE in general, for the output functions of its argument types): with
        // two text arguments its result depends on them alone, and the planner may fold it to a constant per query.
        $$"""
        CREATE OR REPLACE FUNCTION {{schema}}.offer_metadata_pair(p_key text, p_value text)
         RETURNS uuid
         LANGUAGE sql
         IMMUTABLE PARALLEL SAFE
        AS $function$ SELECT md5(jsonb_build_object(p_key, p_value)::text)::uuid $function$;
        """,
        // An offer without its service or time column (stored by a core older than those columns and never repaired:
        // README's upgrade notes) has no row here, rather than failing the write. The delete takes one pair at a time by the
        // whole primary key: joined to jsonb_each_text (or given the pairs as an array), the generic plan PL/pgSQL settles
        // on after five executions in a session read every row of the service's range in the index for each offer (26 ms
        // per offer of a service with 500,000 pairs, so retention's deletes of a large service crawled; bench/README.md,
        // "Deleting offers with metadata").
        $$"""
        CREATE OR REPLACE FUNCTION {{schema}}.offer_metadata_sync()
         RETURNS trigger
         LANGUAGE plpgsql
        AS $function$
        DECLARE
          old_pair uuid;
        BEGIN
          IF TG_OP = 'UPDATE' AND OLD.data -> 'metadata' IS NOT DISTINCT FROM NEW.data -> 'metadata'
             AND OLD.service_id IS NOT DISTINCT FROM NEW.service_id AND OLD.created_at IS NOT DISTINCT FROM NEW.created_at THEN
            RETURN NULL;
          END IF;
          IF TG_OP <> 'INSERT' AND jsonb_typeof(OLD.data -> 'metadata') = 'object' THEN
            FOR old_pair IN SELECT {{schema}}.offer_metadata_pair(e.key, e.value) FROM jsonb_each_text(OLD.data -> 'metadata') e LOOP
              DELETE FROM {{schema}}.{{Table}}
               WHERE service_id = OLD.service_id AND pair = old_pair AND created_at = OLD.created_at AND offer_id = OLD.id;
            END LOOP;
          END IF;
          IF TG_OP <> 'DELETE' AND jsonb_typeof(NEW.data -> 'metadata') = 'object'
             AND NEW.service_id IS NOT NULL AND NEW.created_at IS NOT NULL THEN
            INSERT INTO {{schema}}.{{Table}} (service_id, pair, created_at, offer_id)
            SELECT NEW.service_id, {{schema}}.offer_metadata_pair(e.key, e.value), NEW.created_at, NEW.id
              FROM jsonb_each_text(NEW.data -> 'metadata') e
            ON CONFLICT DO NOTHING;
          END IF;
          RETURN NULL;
        END
        $function$;
        """,
        // Marten's document cleaner truncates, which fires no row trigger.
        $$"""
        CREATE OR REPLACE FUNCTION {{schema}}.offer_metadata_truncate()
         RETURNS trigger
         LANGUAGE plpgsql
        AS $function$
        BEGIN
          TRUNCATE {{schema}}.{{Table}};
          RETURN NULL;
        END
        $function$;
        """,
    ];

    /// <summary>
    /// The triggers on mt_doc_offer: on insert only for an offer with metadata (a condition PostgreSQL checks without
    /// calling the function), on update and delete always (offers change rarely), on TRUNCATE. One schema object, created
    /// together with a rebuild of the rows from every stored offer whenever the migration finds a trigger missing or
    /// changed, or any of the functions changed: a new database, the upgrade, a dropped trigger, or an edit of a function,
    /// which Weasel replaces with DROP FUNCTION ... CASCADE, dropping the triggers that call it. The functions' text is in
    /// the version the insert trigger's comment carries, so such an edit recreates the triggers in the same migration.
    /// The migration runs in one transaction: from the first DROP TRIGGER (ACCESS EXCLUSIVE on mt_doc_offer) to its
    /// commit, offers are neither read nor written, and every write after it fires the new triggers.
    /// </summary>
    private sealed class Triggers(string schema, string[] functions)
        : Trigger($"{schema}.offer_metadata_on_insert", $"{schema}.mt_doc_offer", $"{schema}.offer_metadata_sync()")
    {
        private static readonly string[] Names = ["offer_metadata_on_change", "offer_metadata_on_insert", "offer_metadata_truncate"];

        // As pg_get_triggerdef prints them (the schema check compares), by name.
        private string[] Definitions =>
        [
            $"CREATE TRIGGER offer_metadata_on_change AFTER DELETE OR UPDATE ON {schema}.mt_doc_offer FOR EACH ROW EXECUTE FUNCTION {schema}.offer_metadata_sync()",
            $"CREATE TRIGGER offer_metadata_on_insert AFTER INSERT ON {schema}.mt_doc_offer FOR EACH ROW WHEN ((jsonb_typeof((new.data -> 'metadata'::text)) = 'object'::text)) EXECUTE FUNCTION {schema}.offer_metadata_sync()",
            $"CREATE TRIGGER offer_metadata_truncate AFTER TRUNCATE ON {schema}.mt_doc_offer FOR EACH STATEMENT EXECUTE FUNCTION {schema}.offer_metadata_truncate()",
        ];

        private string Version => "offer_metadata " + Convert.ToHexStringLower(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", [.. functions, .. Definitions]))))[..16];

        public override void WriteDropStatement(Migrator rules, TextWriter writer)
        {
            foreach (var name in Names) writer.WriteLine($"DROP TRIGGER IF EXISTS {name} ON {schema}.mt_doc_offer;");
        }

        public override void WriteCreateStatement(Migrator migrator, TextWriter writer)
        {
            WriteDropStatement(migrator, writer);
            foreach (var definition in Definitions) writer.WriteLine(definition + ";");
            writer.WriteLine($"""
                COMMENT ON TRIGGER offer_metadata_on_insert ON {schema}.mt_doc_offer IS '{Version}';
                TRUNCATE {schema}.{Table};
                INSERT INTO {schema}.{Table} (service_id, pair, created_at, offer_id)
                SELECT o.service_id, {schema}.offer_metadata_pair(e.key, e.value), o.created_at, o.id
                  FROM {schema}.mt_doc_offer o CROSS JOIN LATERAL jsonb_each_text(o.data -> 'metadata') e
                 WHERE jsonb_typeof(o.data -> 'metadata') = 'object' AND o.service_id IS NOT NULL AND o.created_at IS NOT NULL
                ON CONFLICT DO NOTHING;
                """);
        }

        public override void ConfigureQueryCommand(Weasel.Core.DbCommandBuilder builder)
        {
            var names = builder.AddParameter(Names).ParameterName;
            var table = builder.AddParameter("mt_doc_offer").ParameterName;
            var owner = builder.AddParameter(schema).ParameterName;
            builder.Append($"""

                SELECT string_agg(pg_get_triggerdef(t.oid), ';' ORDER BY t.tgname) || ';' || coalesce(max(obj_description(t.oid, 'pg_trigger')), '')
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE NOT t.tgisinternal AND t.tgname = ANY(:{names}) AND c.relname = :{table} AND n.nspname = :{owner};
                """);
        }

        public override async Task<ISchemaObjectDelta> CreateDeltaAsync(DbDataReader reader, CancellationToken ct = default)
        {
            var existing = await reader.ReadAsync(ct) && !await reader.IsDBNullAsync(0, ct) ? reader.GetString(0) : null;
            var expected = string.Join(";", [.. Definitions, Version]);
            // Unqualified where the schema is on the search path, as pg_get_triggerdef prints names.
            var matches = new[] { expected, expected.Replace($"{schema}.", "") }.Select(NormalizeBody).Contains(NormalizeBody(existing ?? ""));
            return new SchemaObjectDelta(this, existing is null ? SchemaPatchDifference.Create
                : matches ? SchemaPatchDifference.None : SchemaPatchDifference.Update);
        }
    }

    /// <summary>
    /// A page of the service's offers holding <paramref name="key"/> = <paramref name="value"/>, newest first, and their
    /// total counted as <see cref="Paging.PageAsync"/> counts it. The page checks the offers' metadata again, so a hash
    /// collision (md5, within one service and key) could only make the total one too high.
    /// </summary>
    public static async Task<PagedResult<T>> PageAsync<T>(IQuerySession session, Guid serviceId, string key, string value, int? page,
        int? pageSize, Func<Offer, T> view, CancellationToken ct)
    {
        var (number, size) = (page ?? 1, pageSize ?? 50);
        var schema = NotificationStore.Schema;
        var range = $"m.service_id = ? AND m.pair = {schema}.offer_metadata_pair(?, ?)";
        var counted = (await session.AdvancedSql.QueryAsync<long>(
            $"SELECT count(*) FROM (SELECT 1 FROM {schema}.{Table} m WHERE {range} LIMIT {Paging.MaxCountedTotal + 1}) AS limited",
            ct, serviceId, key, value)).Single();
        var exact = counted <= Paging.MaxCountedTotal;
        var offers = !exact || counted > (long)(number - 1) * size
            ? await session.QueryAsync<Offer>($"""
                select d.data FROM (SELECT m.offer_id, m.created_at FROM {schema}.{Table} m WHERE {range}
                                    ORDER BY m.created_at DESC, m.offer_id DESC LIMIT {size} OFFSET {(number - 1) * size}) AS p
                JOIN {schema}.mt_doc_offer d ON d.id = p.offer_id
                WHERE d.service_id = ? AND d.data -> 'metadata' @> jsonb_build_object(?::text, ?::text)
                ORDER BY p.created_at DESC, p.offer_id DESC
                """, ct, serviceId, key, value, serviceId, key, value)
            : [];
        return new PagedResult<T>(offers.Select(view).ToList(), number, size, exact ? counted : Paging.MaxCountedTotal, exact);
    }
}
