using System.Text.Json;

namespace NotificationService.Client;

/// <summary>
/// A job as its service sees it. <see cref="LastError"/> is the classified reason of the last failed attempt and
/// <see cref="LastErrorAttempt"/> which attempt that was (a job finished on attempt 2 keeps attempt 1's error).
/// </summary>
public sealed record JobView(
    Guid Id, Guid OfferId, string Adapter, JobState State, JsonElement Params,
    DateTimeOffset CreatedAt, DateTimeOffset? SendAt, DateTimeOffset? ExpireAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int Attempts, string? LastError, int? LastErrorAttempt, int PossibleDuplicates, bool CancellationRequested, int Retries, bool PossiblyDelivered)
{
    public bool IsFinal => State is JobState.Finished or JobState.Failed or JobState.Expired or JobState.Canceled;
}

/// <summary>One event of a stream (a job's lifecycle, or a service's or adapter's admin history), oldest first.</summary>
public sealed record HistoryEntry(long Version, string Type, DateTimeOffset Timestamp, JsonElement Data);

/// <summary>202 to a cancel: <c>Canceled</c> at once if the job had not started; a job being sent is asked to stop.</summary>
public sealed record CancelRequested(Guid Id, JobState State, bool CancellationRequested);

/// <summary>What <see cref="NotificationClient.SearchJobsAsync"/> looks for; every filter left null is not applied, the rest AND together.</summary>
public sealed record JobSearch
{
    public JobState? State { get; init; }
    /// <summary>The adapter's name.</summary>
    public string? Adapter { get; init; }
    public Guid? OfferId { get; init; }
    /// <summary>Jobs created at or after this time.</summary>
    public DateTimeOffset? CreatedFrom { get; init; }
    /// <summary>Jobs created before this time.</summary>
    public DateTimeOffset? CreatedTo { get; init; }
    /// <summary>The offer's metadata must hold each of these key/value pairs (<c>metadata.&lt;key&gt;=&lt;value&gt;</c>).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>1 to 200 (server default 50).</summary>
    public int? Limit { get; init; }
    /// <summary>The <see cref="JobPage.Next"/> of the previous page; null for the first.</summary>
    public string? Cursor { get; init; }
}

/// <summary>A page of jobs, newest first; <see cref="Next"/> is the cursor of the next page, null on the last.</summary>
public sealed record JobPage(IReadOnlyList<JobView> Items, string? Next);
