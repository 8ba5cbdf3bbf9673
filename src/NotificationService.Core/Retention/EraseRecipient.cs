using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;
using Npgsql;
using Wolverine.Http;

namespace NotificationService.Core.Retention;

// Nullable so that a missing recipient is a 422 naming it, not a 400; [Required] keeps it required in the OpenAPI document.
public sealed record EraseRecipient([property: Required] string? Recipient);

/// <summary>
/// The audit record of a data-subject erasure: who asked, when, what was named and how many jobs were erased. Kind
/// "email" or "phone" (POST /admin/erasures): the recipient itself is not kept, only the SHA-256 of its normalised form,
/// so a later question ("was x@y erased?") can be answered by hashing it again; the hash confirms an address someone
/// already knows, it does not reveal one. Kind "offer" (POST /v1/offers/{id}/erase): the offer and its service.
/// </summary>
public sealed class Erasure
{
    public Guid Id { get; set; }
    public string Kind { get; set; } = "";
    public string? RecipientSha256 { get; set; }
    public Guid? OfferId { get; set; }
    public Guid? ServiceId { get; set; }
    public string By { get; set; } = "";
    public DateTimeOffset At { get; set; }
    public int Erased { get; set; }
    public List<Guid> NotEnded { get; set; } = [];
}

/// <summary>
/// How a recipient is matched: any string value anywhere in a job's params (a list element, a nested field) that equals
/// it. An email address (it has an @) is compared case-insensitively, and also matches a display form
/// <c>Name &lt;address&gt;</c>; a phone number is compared by its digits alone (<c>+49 151 123-4567</c> matches <c>+491511234567</c>),
/// against values that look like phone numbers (digits, spaces, + ( ) . - /), strings or JSON numbers. Free text that
/// merely mentions the address (a message body) does not match.
/// </summary>
public sealed partial record RecipientMatch(string Kind, string Normalised)
{
    [GeneratedRegex(@"^[^@\s]+@[^@\s]+$")] private static partial Regex Email();
    [GeneratedRegex(PhonePattern)] private static partial Regex Phone();
    public const int MinPhoneDigits = 6;
    /// <summary>What a phone number may look like; the same pattern in .NET and in PostgreSQL ('-' first in the brackets is literal in both).</summary>
    private const string PhonePattern = @"^\+?[-0-9 ()./]+$";

    public static RecipientMatch? Parse(string recipient)
    {
        var value = recipient.Trim();
        if (Email().IsMatch(value)) return new("email", value.ToLowerInvariant());
        if (Phone().IsMatch(value) && value.Count(char.IsAsciiDigit) >= MinPhoneDigits) return new("phone", new string(value.Where(char.IsAsciiDigit).ToArray()));
        return null;
    }

    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Kind}:{Normalised}")));

    /// <summary>The SQL condition on a jsonb value <c>v</c> (one of the params' values) for this recipient, parameter <c>@recipient</c>.</summary>
    public string Condition => Kind == "email"
        ? "jsonb_typeof(v) = 'string' AND (lower(btrim(v #>> '{}')) = @recipient OR right(lower(btrim(v #>> '{}')), length(@recipient) + 2) = '<' || @recipient || '>')"
        : $"jsonb_typeof(v) IN ('string', 'number') AND (v #>> '{{}}') ~ '{PhonePattern}' AND regexp_replace(v #>> '{{}}', '[^0-9]', '', 'g') = @recipient";
}

public sealed record RecipientErased(Guid Id, int Erased, IReadOnlyList<Guid> NotEnded);

/// <summary>
/// A data-subject request: finds every job, of every service, whose params hold the address or phone number, erases
/// their params (canceling first any job not started yet, so it is never sent with erased params), and reports how
/// many. A job being sent (Started) is left alone and listed in <c>notEnded</c>; repeat the request once it ended. An
/// offer's metadata is erased with the last of its jobs' params.
/// The jobs are handled in batches of <c>Retention:BatchSize</c>, each its own transaction.
/// </summary>
public static class EraseRecipientEndpoint
{
    public static ProblemDetails Validate(EraseRecipient command) =>
        command.Recipient is not { Length: > 0 and <= 320 } recipient ? Problems.Invalid(("recipient", "Required: an email address or a phone number, at most 320 characters."))
        : RecipientMatch.Parse(recipient) is null ? Problems.Invalid(("recipient", $"Must be an email address (local@domain) or a phone number (at least {RecipientMatch.MinPhoneDigits} digits; + ( ) . - / and spaces allowed)."))
        : WolverineContinue.NoProblems;

    [WolverinePost("/admin/erasures", OperationId = "eraseRecipient")]
    [Tags("Retention")]
    [EndpointSummary("Erase a recipient")]
    [EndpointDescription("A data subject's erasure request: the params of every job sent to this email address or phone number are masked, in all services, and the erasure is recorded (without the recipient in clear).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    public static async Task<RecipientErased> Post(
        EraseRecipient command, IDocumentStore store, RetentionSettings settings, ClaimsPrincipal user, TimeProvider clock, CancellationToken ct)
    {
        var match = RecipientMatch.Parse(command.Recipient!)!;
        var now = clock.GetUtcNow();
        var erased = 0;
        var notEnded = new List<Guid>();
        var skip = new List<Guid>(); // not ended, or gone (deleted by the sweep meanwhile): not looked for again
        // Chains first: a step starting while the jobs are searched moves its params from the offer into a new job, which
        // the search below then finds; stopped first, no chain can create a job holding the recipient after the search.
        await StopChainsHoldingAsync(store, match, now, ct);
        while (true)
        {
            await using var session = store.LightweightSession();
            var connection = await session.OpenConnectionAsync(ct); // one transaction per batch: the search, the locks and the erasure
            var batch = await FindAsync(connection, match, skip, settings.BatchSize, ct);
            if (batch.Count == 0) break;
            var done = new List<Job>();
            foreach (var jobId in batch.Order()) // a fixed order: two requests on the same jobs never deadlock
            {
                var stream = await session.Events.FetchForExclusiveWriting<Job>(jobId, ct);
                if (stream.Aggregate is not { } job) { skip.Add(jobId); continue; }
                var (outcome, events) = JobLifecycle.OnErasure(job, "recipient", user.Actor(), now);
                new AppendJobEvents(jobId, events).Execute(session);
                switch (outcome)
                {
                    case ErasureOutcome.Erased: done.Add(job); break;
                    case ErasureOutcome.NotEnded: notEnded.Add(jobId); skip.Add(jobId); break;
                    case ErasureOutcome.AlreadyErased: skip.Add(jobId); break;
                }
            }
            var offers = await EraseOfferMetadata.LeftWithoutParamsAsync(connection, done.Select(j => j.OfferId), done.Select(j => j.Id), ct);
            new MaskStoredParams(done.Select(j => j.Id).ToList()).Execute(session);
            new EraseOfferMetadata(offers, now).Execute(session);
            await session.SaveChangesAsync(ct);
            erased += done.Count;
        }

        var erasure = new Erasure
        {
            Id = Guid.NewGuid(), Kind = match.Kind, RecipientSha256 = match.Sha256, By = user.Actor(), At = now, Erased = erased, NotEnded = notEnded,
        };
        await using (var session = store.LightweightSession())
        {
            session.Store(erasure);
            await session.SaveChangesAsync(ct);
        }
        return new RecipientErased(erasure.Id, erased, notEnded);
    }

    /// <summary>
    /// Up to <paramref name="limit"/> jobs with params not yet erased that hold the recipient, now or in any earlier params
    /// their stream still keeps (a job whose params were changed keeps the first ones in its JobScheduled/JobQueued event),
    /// skipping those known not to have ended.
    /// </summary>
    /// <summary>
    /// A fallback step not started yet keeps its params on the offer (README "Fallback chains"), where no job search finds
    /// them: a chain with the recipient in such a step ends Erased, and its kept params go. The jobs it already created
    /// were erased above like any other.
    /// </summary>
    private static async Task StopChainsHoldingAsync(IDocumentStore store, RecipientMatch match, DateTimeOffset now, CancellationToken ct)
    {
        // The offers found are locked (FOR UPDATE, in id order so two erasures never deadlock) until the save: a chain step
        // starting meanwhile waits, then fails its own optimistic save and retries on the stopped chain. The retry here is
        // only for an offer written between the search's snapshot and the lock.
        for (var round = 0; ; round++)
        {
            await using var session = store.LightweightSession();
            var connection = await session.OpenConnectionAsync(ct); // the search and the save in one transaction
            await using var command = new NpgsqlCommand($"""
                SELECT o.id, (c.ord - 1)::int FROM {NotificationStore.Schema}.mt_doc_offer o,
                  jsonb_array_elements(CASE WHEN jsonb_typeof(o.data->'chains') = 'array' THEN o.data->'chains' ELSE '[]'::jsonb END) WITH ORDINALITY c(chain, ord)
                WHERE (c.chain->>'endedAt') IS NULL
                  AND EXISTS (SELECT 1 FROM jsonb_array_elements(c.chain->'steps') s, jsonb_path_query(s->'params', 'strict $.**') v WHERE {match.Condition})
                ORDER BY o.id FOR UPDATE OF o
                """, connection);
            command.Parameters.AddWithValue("recipient", match.Normalised);
            var found = new List<(Guid Offer, int Chain)>();
            await using (var reader = await command.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) found.Add((reader.GetGuid(0), reader.GetInt32(1)));
            if (found.Count == 0) return;
            foreach (var offer in await session.LoadManyAsync<Offer>(ct, found.Select(f => f.Offer).Distinct()))
            {
                foreach (var (_, index) in found.Where(f => f.Offer == offer.Id))
                    if (offer.Chains is { } chains && index < chains.Count) FallbackChains.Stop(chains[index], "Erased", now);
                session.Store(offer);
            }
            try { await session.SaveChangesAsync(ct); return; }
            catch (JasperFx.ConcurrencyException) when (round < 20) { }
        }
    }

    private static async Task<List<Guid>> FindAsync(NpgsqlConnection connection, RecipientMatch match, List<Guid> skip, int limit, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT j.id FROM {NotificationStore.Schema}.mt_doc_job j
            WHERE j.data->>'paramsErasedAt' IS NULL AND NOT (j.id = ANY(@skip))
              AND (EXISTS (SELECT 1 FROM jsonb_path_query(j.data->'params', 'strict $.**') v WHERE {match.Condition})
                OR EXISTS (SELECT 1 FROM {NotificationStore.Schema}.mt_events e
                           WHERE e.stream_id = j.id AND e.type = ANY(@types)
                             AND EXISTS (SELECT 1 FROM jsonb_path_query(e.data->'params', 'strict $.**') v WHERE {match.Condition})))
            LIMIT @limit
            """, connection);
        command.Parameters.AddWithValue("recipient", match.Normalised);
        command.Parameters.AddWithValue("types", JobErasure.EventTypesWithParams);
        command.Parameters.AddWithValue("skip", skip.ToArray());
        command.Parameters.AddWithValue("limit", limit);
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return ids;
    }
}
