using JasperFx.Events;
using Marten;
using Npgsql;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Wolverine.Marten;

namespace NotificationService.Core.Retention;

/// <summary>
/// Erasing a job's params: the <see cref="JobParamsErased"/> event (the Job document follows inline) and the params in
/// every stored event that carried them, in one transaction. The events are rewritten in SQL rather than with Marten's
/// <c>ApplyEventDataMasking</c> (present in Marten 9): that loads every matched event into the process (params may be
/// up to the 1 MiB body limit each), writes them back one UPDATE per event, and commits in a session of its own, apart
/// from the event that records the erasure. One statement per batch, in the caller's transaction, keeps the params in
/// PostgreSQL and the erasure all-or-nothing.
/// </summary>
public static class JobErasure
{
    /// <summary>The stored event types whose data holds <c>params</c> (Marten's names for JobScheduled, JobQueued, JobParamsUpdated).</summary>
    public static readonly string[] EventTypesWithParams = ["job_scheduled", "job_queued", "job_params_updated"];

    /// <summary>
    /// The failure events whose <c>detail</c> (what the provider answered, e.g. "550 &lt;ann@example.test&gt;: no such
    /// user") may quote the recipient; erased with the params. The classified <c>error</c> names no recipient and stays.
    /// </summary>
    public static readonly string[] EventTypesWithDetail = ["job_attempt_failed", "job_failed"];
}

/// <summary>
/// Rewrites <c>params</c> to <c>{"erased": true}</c> and a failure's <c>detail</c> to null in the stored events of these
/// jobs, in the session's transaction.
/// </summary>
public sealed record MaskStoredParams(IReadOnlyCollection<Guid> JobIds) : IMartenOp
{
    public void Execute(IDocumentSession session)
    {
        if (JobIds.Count == 0) return;
        var ids = JobIds.ToArray();
        session.QueueSqlCommand(
            $"UPDATE {NotificationStore.Schema}.mt_events SET data = jsonb_set(data, '{{params}}', ?::jsonb) WHERE stream_id = ANY(?) AND type = ANY(?)",
            Job.ErasedParams.GetRawText(), ids, JobErasure.EventTypesWithParams);
        session.QueueSqlCommand(
            $"UPDATE {NotificationStore.Schema}.mt_events SET data = jsonb_set(data, '{{detail}}', 'null') WHERE stream_id = ANY(?) AND type = ANY(?) AND data->>'detail' IS NOT NULL",
            ids, JobErasure.EventTypesWithDetail);
        new DeleteJobsDeadLetters(JobIds).Execute(session);
    }
}

/// <summary>
/// Deletes the workers' dead-letter rows of these jobs (erased, or deleted by retention): a row's exception message may
/// quote the recipient (a provider's "550 &lt;ann@example.test&gt;"), and a job whose params are gone is never replayed.
/// Wolverine stores no job id column, so a row is found by the job id in its body (the DeliverJob JSON inside the
/// envelope). The table exists only once a worker started: a DO block, since a plain statement on a missing table would
/// fail the whole erasure.
/// </summary>
public sealed record DeleteJobsDeadLetters(IReadOnlyCollection<Guid> JobIds) : IMartenOp
{
    public const string Table = WorkerRole.EnvelopeSchema + ".wolverine_dead_letters";

    public void Execute(IDocumentSession session)
    {
        if (JobIds.Count == 0) return;
        // Guids formatted here, never text from outside, so inlining them is safe (a DO block takes no parameters). The
        // body is an E'' string with each ';' written \073: Marten refuses a literal ';' in a queued command.
        var ids = string.Join(",", JobIds.Select(id => $"''{id:D}''"));
        session.QueueSqlCommand(
            $"DO E'BEGIN IF to_regclass(''{Table}'') IS NOT NULL THEN DELETE FROM {Table} d WHERE d.body IS NOT NULL " +
            $"AND EXISTS (SELECT 1 FROM unnest(ARRAY[{ids}]::text[]) j WHERE position(convert_to(j, ''UTF8'') IN d.body) > 0)\\073 END IF\\073 END'");
    }
}

/// <summary>Erases the metadata of these offers (their jobs' params are all erased): it may name the person too.</summary>
public sealed record EraseOfferMetadata(IReadOnlyCollection<Guid> OfferIds, DateTimeOffset At) : IMartenOp
{
    public void Execute(IDocumentSession session)
    {
        if (OfferIds.Count == 0) return;
        session.QueueSqlCommand(
            // A new version, so a PATCH or DELETE that loaded the offer before this fails (409) rather than restoring the metadata.
            // The params kept for fallback steps not started yet go with it, and a chain not ended ends Erased (no step starts
            // on an erased offer; its last job's stream may be swept before any message would end it).
            $"UPDATE {NotificationStore.Schema}.mt_doc_offer SET data = data || jsonb_build_object('metadata', null, 'erasedAt', ?::timestamptz, 'chains', " +
            "(SELECT jsonb_agg(c || jsonb_build_object('steps', (SELECT jsonb_agg(s - 'params') FROM jsonb_array_elements(c->'steps') s)) " +
            "  || CASE WHEN c->>'endedAt' IS NULL THEN jsonb_build_object('endedAt', ?::timestamptz, 'outcome', 'Erased') ELSE '{}'::jsonb END) " +
            "FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data->'chains') = 'array' THEN data->'chains' ELSE '[]'::jsonb END) c)), " +
            "mt_version = gen_random_uuid() WHERE id = ANY(?)",
            At, At, OfferIds.ToArray());
    }

    /// <summary>
    /// Of these offers, the ones not yet erased whose every job has its params erased once <paramref name="erasing"/> are;
    /// read in the caller's transaction, before the erasure is committed.
    /// </summary>
    public static async Task<List<Guid>> LeftWithoutParamsAsync(
        NpgsqlConnection connection, IEnumerable<Guid> offerIds, IEnumerable<Guid> erasing, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT o.id FROM {NotificationStore.Schema}.mt_doc_offer o
            WHERE o.id = ANY(@offers) AND o.data->>'erasedAt' IS NULL
              AND NOT EXISTS (SELECT 1 FROM {NotificationStore.Schema}.mt_doc_job j
                              WHERE (j.data->>'offerId')::uuid = o.id AND j.data->>'paramsErasedAt' IS NULL AND NOT (j.id = ANY(@erasing)))
            """, connection);
        command.Parameters.AddWithValue("offers", offerIds.Distinct().ToArray());
        command.Parameters.AddWithValue("erasing", erasing.ToArray());
        var offers = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) offers.Add(reader.GetGuid(0));
        return offers;
    }
}
