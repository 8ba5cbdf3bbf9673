using System.Text.Json;
using System.Text.Json.Serialization;

namespace NotificationService.Storage.Jobs;

public enum JobState { Scheduled, Queued, Started, Finished, Failed, Expired, Canceled }

/// <summary>
/// The job's current state: an inline projection of its event stream, committed in the same transaction as each event.
/// <para>Written three times per job (the accept, the start, the outcome), never in place, so its stored JSON leaves out
/// what reads back the same without it: members that are null (a missing key reads as null, in C# and in SQL's
/// <c>data ->> 'key'</c>) and the computed <see cref="IsTerminal"/>, <see cref="IsPending"/> and <see cref="IsInFlight"/>,
/// which no query reads. That is a quarter of the document (bench/README.md, "The job document without its nulls").</para>
/// </summary>
public sealed class Job
{
    public Guid Id { get; set; }
    public Guid OfferId { get; set; }
    public Guid ServiceId { get; set; }
    public Guid AdapterId { get; set; }
    public string AdapterName { get; set; } = "";
    public JsonElement Params { get; set; }
    public JobState State { get; set; }
    // The times that are columns as well (NotificationStore) are held in UTC, however they were set or stored: Npgsql
    // writes a DateTimeOffset to timestamptz only with offset 0, a client may give an expiry with any offset (the same
    // instant, shown in UTC), and documents stored before these were columns kept the client's offset.
    private DateTimeOffset _createdAt;
    private DateTimeOffset? _expireAt, _finishedAt;
    public DateTimeOffset CreatedAt { get => _createdAt; set => _createdAt = value.ToUniversalTime(); }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? SendAt { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ExpireAt { get => _expireAt; set => _expireAt = value?.ToUniversalTime(); }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? StartedAt { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? FinishedAt { get => _finishedAt; set => _finishedAt = value?.ToUniversalTime(); }
    public int Attempts { get; set; }
    /// <summary>The error of the last attempt that failed (kept when a later attempt delivers), and which attempt that was.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? LastError { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? LastErrorAttempt { get; set; }
    /// <summary>What the provider answered to that attempt, a bounded excerpt; shown to operators, never to the tenant.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? LastErrorDetail { get; set; }
    public int PossibleDuplicates { get; set; }
    public bool CancellationRequested { get; set; }
    /// <summary>How many times an operator re-drove the job after it failed.</summary>
    public int Retries { get; set; }
    /// <summary>Canceled after the provider may have received the whole request: the recipient may have it.</summary>
    public bool PossiblyDelivered { get; set; }
    /// <summary>Which <c>DeliverJob</c> message is current: raised each time the reconciler re-queues the job.</summary>
    public int Generation { get; set; }
    /// <summary>When its params were erased (retention or a data-subject request); an erased job is never sent again.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ParamsErasedAt { get; set; }
    /// <summary>A fallback chain's links: the job this one replaced, and the job that replaced this one.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Guid? FallbackOf { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public Guid? FellBackTo { get; set; }
    /// <summary>The adapter the job was meant for when it was routed to that adapter's failover.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RoutedFrom { get; set; }
    [Marten.Schema.Version] public long Version { get; set; }

    /// <summary>What erased params read as, in the document and in the events that carried them.</summary>
    public static JsonElement ErasedParams { get; } = JsonDocument.Parse("""{"erased":true}""").RootElement.Clone();

    [JsonIgnore] public bool IsTerminal => State is JobState.Finished or JobState.Failed or JobState.Expired or JobState.Canceled;

    /// <summary>Not started yet, so its params, expiry and send time may still change and a cancel ends it at once.</summary>
    [JsonIgnore] public bool IsPending => State is JobState.Scheduled or JobState.Queued && Attempts == 0;

    /// <summary>Started and not yet ended: a redelivery now means the previous attempt's outcome is unknown.</summary>
    [JsonIgnore] public bool IsInFlight => State == JobState.Started;

    public bool IsExpiredAt(DateTimeOffset now) => ExpireAt is { } expireAt && expireAt <= now;

    /// <summary>
    /// The job as it is once <paramref name="changes"/> (a pending job's changes, see JobLifecycle.OnChange) are stored,
    /// this loaded copy left as it is: what PATCH /v1/offers answers with while Wolverine appends the events (the same
    /// Apply as Marten's projection). Every event OnChange returns must be handled (tested in
    /// Core.Tests/Architecture/when_an_endpoint_answers_with_the_state_after_its_events.cs).
    /// </summary>
    public Job After(IEnumerable<object> changes)
    {
        var next = (Job)MemberwiseClone();
        foreach (var change in changes)
            switch (change)
            {
                case JobExpiryChanged e: next.Apply(e); break;
                case JobRescheduled e: next.Apply(e); break;
                case JobParamsUpdated e: next.Apply(e); break;
                default: throw new ArgumentException($"{change.GetType().Name} does not change a pending job in place.", nameof(changes));
            }
        return next;
    }

    /// <summary>
    /// The job once the worker's own start (JobLifecycle.OnPickUp's Send events) is committed, this copy left as it is:
    /// what the worker holds to decide its outcome from and append it at the expected stream version, without reading the
    /// job again (JobJournal). Anything committed in between changes the version, and the append falls back to a read.
    /// </summary>
    public Job AfterStart(IReadOnlyList<object> started)
    {
        if (started.FirstOrDefault(e => e is not (JobPossibleDuplicate or JobStarted)) is { } other)
            throw new ArgumentException($"{other.GetType().Name} is not part of a start.", nameof(started));
        return Then(started);
    }

    /// <summary>
    /// The job once <paramref name="events"/> are appended to its stream, this copy left as it is, at the version they
    /// take the stream to: the document Marten's inline projection would store, through the same Apply methods (what
    /// JobJournal writes in the statement that appends them, JobStreamAppend). Every event with an Apply is handled here
    /// (tested in Core.Tests/Jobs/when_a_job_is_copied.cs).
    /// </summary>
    public Job Then(IReadOnlyList<object> events)
    {
        var next = Copy();
        foreach (var e in events) next.ApplyEvent(e);
        next.Version += events.Count;
        return next;
    }

    // Not named Apply: Marten's conventions take every Apply method, non-public ones too, as an event the projection
    // handles, and one taking object would claim every stream's events.
    private void ApplyEvent(object e)
    {
        switch (e)
        {
            case JobScheduled x: Apply(x); break;
            case JobQueued x: Apply(x); break;
            case JobStarted x: Apply(x); break;
            case JobPossibleDuplicate x: Apply(x); break;
            case JobAttemptFailed x: Apply(x); break;
            case JobFinished x: Apply(x); break;
            case JobFailed x: Apply(x); break;
            case JobExpired x: Apply(x); break;
            case JobCancellationRequested x: Apply(x); break;
            case JobCanceled x: Apply(x); break;
            case JobParamsUpdated x: Apply(x); break;
            case JobExpiryChanged x: Apply(x); break;
            case JobRescheduled x: Apply(x); break;
            case JobRequeued x: Apply(x); break;
            case JobParamsErased x: Apply(x); break;
            case JobFellBack x: Apply(x); break;
            case JobFallbackStarted x: Apply(x); break;
            case JobRoutedToFailover x: Apply(x); break;
            case JobRetryRequested x: Apply(x); break;
            default: throw new ArgumentException($"{e.GetType().Name} is not an event of a job's stream.", nameof(e));
        }
    }

    /// <summary>A copy to apply events to, this one left as it is (every member is a value or immutable).</summary>
    public Job Copy() => (Job)MemberwiseClone();

    public void Apply(JobScheduled e)
    {
        (Id, OfferId, ServiceId, AdapterId, AdapterName, Params) = (e.JobId, e.OfferId, e.ServiceId, e.AdapterId, e.AdapterName, e.Params);
        (State, CreatedAt, SendAt, ExpireAt) = (JobState.Scheduled, e.CreatedAt, e.SendAt, e.ExpireAt);
    }

    public void Apply(JobQueued e)
    {
        (Id, OfferId, ServiceId, AdapterId, AdapterName, Params) = (e.JobId, e.OfferId, e.ServiceId, e.AdapterId, e.AdapterName, e.Params);
        // A scheduled job was created when it was scheduled; an immediate one when it was queued.
        if (CreatedAt == default) CreatedAt = e.QueuedAt;
        (State, ExpireAt) = (JobState.Queued, e.ExpireAt);
    }

    public void Apply(JobStarted e) => (State, StartedAt, Attempts) = (JobState.Started, StartedAt ?? e.StartedAt, e.Attempt);
    public void Apply(JobPossibleDuplicate e) => PossibleDuplicates++;
    public void Apply(JobAttemptFailed e) => (State, LastError, LastErrorAttempt, LastErrorDetail) = (JobState.Queued, e.Error, e.Attempt, e.Detail);
    public void Apply(JobFinished e) => (State, FinishedAt) = (JobState.Finished, e.FinishedAt);
    public void Apply(JobFailed e) => (State, FinishedAt, LastError, LastErrorAttempt, LastErrorDetail) = (JobState.Failed, e.FailedAt, e.Error, e.Attempt, e.Detail);
    public void Apply(JobExpired e) => (State, FinishedAt) = (JobState.Expired, e.ExpiredAt);
    public void Apply(JobCancellationRequested e) => CancellationRequested = true;
    public void Apply(JobCanceled e) => (State, FinishedAt, PossiblyDelivered) = (JobState.Canceled, e.CanceledAt, e.PossiblyDelivered);
    public void Apply(JobParamsUpdated e) => Params = e.Params;
    public void Apply(JobExpiryChanged e) => ExpireAt = e.ExpireAt;
    public void Apply(JobRescheduled e) => SendAt = e.SendAt;
    public void Apply(JobRequeued e) => (State, Generation) = (JobState.Queued, e.Generation);
    // The provider's answer may quote the recipient, so it goes with the params (the stored events' detail too).
    public void Apply(JobParamsErased e) => (Params, ParamsErasedAt, LastErrorDetail) = (ErasedParams, e.ErasedAt, null);
    public void Apply(JobFellBack e) => FellBackTo = e.NextJobId;
    public void Apply(JobFallbackStarted e) => FallbackOf = e.PreviousJobId;
    public void Apply(JobRoutedToFailover e) => RoutedFrom = e.FromAdapter;
    public void Apply(JobRetryRequested e) =>
        (State, FinishedAt, Retries, Generation) = (JobState.Queued, null, Retries + 1, e.Generation ?? Generation);
}
