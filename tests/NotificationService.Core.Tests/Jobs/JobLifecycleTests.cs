using System.Text.Json;
using NotificationService.Contracts;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// The job state machine as a table: every state (and the flags that change a decision) by every command, with the
/// events <see cref="JobLifecycle"/> returns ("-" for none). Pure: no host, no database. The table records today's
/// behaviour. A terminal job moves on only by an operator's Retry of a Failed one (or Redrive of a Failed or Expired one); erasing its params is recorded in any
/// state, once. Callers validate before they decide (e.g. the worker never reports an attempt it did not start), so rows
/// for commands a caller never sends in that state still show what the function returns. Where an endpoint's validation
/// answers 409 with its own message, these rows are the rule it words: Retry (RetryJobEndpoint.Validate: only Failed,
/// params not erased), Change the send time (UpdateOfferEndpoint.Validate: only while Scheduled), Cancel (a terminal job).
/// </summary>
public sealed class JobLifecycleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly Adapter TheAdapter = new() { Id = Guid.NewGuid(), Name = "email", Queue = "ns.adapter.email" };
    private static readonly DeliveryPolicy Policy = new() { MaxAttempts = 3 };
    private static readonly StuckJobBounds Bounds = new(StartedLease: TimeSpan.FromMinutes(5), QueuedBound: TimeSpan.FromMinutes(10));
    private static readonly JsonElement Params = JsonDocument.Parse("""{"to":"ann@example.test"}""").RootElement;

    /// <summary>A job in each state, built by applying its events as the projection does.</summary>
    private static readonly Dictionary<string, Func<Job>> Situations = new()
    {
        ["Scheduled"] = () => Scheduled(sendAt: Now, expireAt: null),
        ["Scheduled, expiry passed"] = () => Scheduled(sendAt: Now.AddMinutes(-1), expireAt: Now.AddSeconds(-1)),
        ["Queued"] = () => Queued(),
        ["Queued, expiry passed"] = () => Queued(expireAt: Now.AddSeconds(-1)),
        ["Queued, cancellation requested"] = () => Queued().With(j => new JobCancellationRequested(j.Id, "svc", Now)),
        ["Queued for attempt 2"] = () => Started().With(j => new JobAttemptFailed(j.Id, 1, "timeout", Now, Now)),
        ["Queued, message of an older generation"] = () => Started().With(j => new JobRequeued(j.Id, 1, "stuck", Now)),
        ["Queued, another adapter's"] = () => Queued(adapterId: Guid.NewGuid()),
        ["Started"] = () => Started(),
        ["Started, cancellation requested"] = () => Started().With(j => new JobCancellationRequested(j.Id, "svc", Now)),
        ["Started, expiry passed"] = () => Queued(expireAt: Now.AddSeconds(-1)).With(j => new JobStarted(j.Id, 1, "w1", Now.AddMinutes(-30))),
        ["Finished"] = () => Started().With(j => new JobFinished(j.Id, 1, Now, "id-1")),
        ["Failed"] = () => Started().With(j => new JobFailed(j.Id, 1, "550", Now)),
        ["Failed, params erased"] = () => Started().With(j => new JobFailed(j.Id, 1, "550", Now)).With(j => new JobParamsErased(j.Id, "offer", "svc", Now)),
        ["Expired"] = () => Queued().With(j => new JobExpired(j.Id, Now)),
        ["Canceled"] = () => Queued().With(j => new JobCancellationRequested(j.Id, "svc", Now)).With(j => new JobCanceled(j.Id, Now)),
    };

    /// <summary>
    /// Each command as its caller issues it, at <see cref="Now"/>. A worker's message is of generation 0 and for
    /// <see cref="TheAdapter"/>; the reconciler read the job as it is, unchanged for an hour (past both bounds); an
    /// attempt ends as the job's latest (attempt 3 is the policy's last).
    /// </summary>
    private static readonly Dictionary<string, Func<Job, IReadOnlyList<object>>> Commands = new()
    {
        ["Cancel"] = job => JobLifecycle.OnCancel(job, "svc", Now) is CancelDecision.Cancel cancel ? cancel.Events : [],
        ["ExpiryDue"] = job => JobLifecycle.OnExpiryDue(job, Now),
        ["Stuck"] = job => JobLifecycle.OnStuck(job, job.Version, Now.AddHours(-1), Bounds, adapterExists: true, Now),
        ["SendTime"] = job => JobLifecycle.OnSendTime(job, job.SendAt ?? Now, TheAdapter, Now),
        ["Change"] = job => JobLifecycle.OnChange(job, expireAt: Now.AddDays(1), sendAt: null, newParams: Params, Now),
        ["Change the send time"] = job => JobLifecycle.OnChange(job, expireAt: null, sendAt: Now.AddDays(1), newParams: null, Now),
        ["Retry"] = job => JobLifecycle.OnRetry(job, "admin", Now),
        ["Redrive"] = job => JobLifecycle.OnRedrive(job, "admin", Now),
        ["ParamsErased"] = job => JobLifecycle.OnParamsErased(job, "retention", "retention", Now),
        ["Erasure"] = job => JobLifecycle.OnErasure(job, "offer", "svc", Now).Events,
        ["PickUp"] = job => JobLifecycle.OnPickUp(job, "w2", Now, generation: 0, adapterId: TheAdapter.Id) switch
        {
            PickUp.Send send => send.Events,
            PickUp.End end => [end.Event],
            _ => [],
        },
        ["Delivered"] = job => Ended(job, new DeliveryResult.Delivered("id-2")),
        ["Transient"] = job => Ended(job, new DeliveryResult.Transient("timeout")),
        ["Transient, last attempt"] = job => Ended(job, new DeliveryResult.Transient("timeout"), attempt: Policy.MaxAttempts),
        ["Permanent"] = job => Ended(job, new DeliveryResult.Permanent("550")),
        ["Aborted by the cancel"] = job => Ended(job, new DeliveryResult.Transient("aborted"), canceled: true),
        ["PoisonMessage"] = job => JobLifecycle.OnPoisonMessage(job, "InvalidOperationException: boom", Now),
    };

    public static TheoryData<string, string, string> Transitions => new()
    {
        // state                                     command                    events
        { "Scheduled",                               "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Scheduled",                               "ExpiryDue",               "-" },
        { "Scheduled",                               "Stuck",                   "-" },
        { "Scheduled",                               "SendTime",                "JobQueued" },
        { "Scheduled",                               "Change",                  "JobExpiryChanged, JobParamsUpdated" },
        { "Scheduled",                               "Change the send time",    "JobRescheduled" },
        { "Scheduled",                               "Retry",                   "-" },
        { "Scheduled",                               "Redrive",                 "-" },
        { "Scheduled",                               "ParamsErased",            "JobParamsErased" },
        { "Scheduled",                               "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Scheduled",                               "PickUp",                  "JobStarted" },
        { "Scheduled",                               "Delivered",               "JobFinished" },
        { "Scheduled",                               "Transient",               "JobAttemptFailed" },
        { "Scheduled",                               "Transient, last attempt", "JobFailed" },
        { "Scheduled",                               "Permanent",               "JobFailed" },
        { "Scheduled",                               "Aborted by the cancel",   "JobCanceled" },
        { "Scheduled",                               "PoisonMessage",           "JobFailed" },

        { "Scheduled, expiry passed",                "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Scheduled, expiry passed",                "ExpiryDue",               "JobExpired" },
        { "Scheduled, expiry passed",                "Stuck",                   "-" },
        { "Scheduled, expiry passed",                "SendTime",                "JobExpired" },
        { "Scheduled, expiry passed",                "Change",                  "JobExpiryChanged, JobParamsUpdated" },
        { "Scheduled, expiry passed",                "Change the send time",    "JobRescheduled" },
        { "Scheduled, expiry passed",                "Retry",                   "-" },
        { "Scheduled, expiry passed",                "Redrive",                 "-" },
        { "Scheduled, expiry passed",                "ParamsErased",            "JobParamsErased" },
        { "Scheduled, expiry passed",                "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Scheduled, expiry passed",                "PickUp",                  "JobExpired" },
        { "Scheduled, expiry passed",                "Delivered",               "JobFinished" },
        { "Scheduled, expiry passed",                "Transient",               "JobAttemptFailed" },
        { "Scheduled, expiry passed",                "Transient, last attempt", "JobFailed" },
        { "Scheduled, expiry passed",                "Permanent",               "JobFailed" },
        { "Scheduled, expiry passed",                "Aborted by the cancel",   "JobCanceled" },
        { "Scheduled, expiry passed",                "PoisonMessage",           "JobFailed" },

        { "Queued",                                  "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Queued",                                  "ExpiryDue",               "-" },
        { "Queued",                                  "Stuck",                   "JobRequeued" },
        { "Queued",                                  "SendTime",                "-" },
        { "Queued",                                  "Change",                  "JobExpiryChanged, JobParamsUpdated" },
        { "Queued",                                  "Change the send time",    "-" },
        { "Queued",                                  "Retry",                   "-" },
        { "Queued",                                  "Redrive",                 "-" },
        { "Queued",                                  "ParamsErased",            "JobParamsErased" },
        { "Queued",                                  "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Queued",                                  "PickUp",                  "JobStarted" },
        { "Queued",                                  "Delivered",               "JobFinished" },
        { "Queued",                                  "Transient",               "JobAttemptFailed" },
        { "Queued",                                  "Transient, last attempt", "JobFailed" },
        { "Queued",                                  "Permanent",               "JobFailed" },
        { "Queued",                                  "Aborted by the cancel",   "JobCanceled" },
        { "Queued",                                  "PoisonMessage",           "JobFailed" },

        { "Queued, expiry passed",                   "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Queued, expiry passed",                   "ExpiryDue",               "JobExpired" },
        { "Queued, expiry passed",                   "Stuck",                   "JobExpired" },
        { "Queued, expiry passed",                   "SendTime",                "-" },
        { "Queued, expiry passed",                   "Change",                  "JobExpiryChanged, JobParamsUpdated" },
        { "Queued, expiry passed",                   "Change the send time",    "-" },
        { "Queued, expiry passed",                   "Retry",                   "-" },
        { "Queued, expiry passed",                   "Redrive",                 "-" },
        { "Queued, expiry passed",                   "ParamsErased",            "JobParamsErased" },
        { "Queued, expiry passed",                   "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Queued, expiry passed",                   "PickUp",                  "JobExpired" },
        { "Queued, expiry passed",                   "Delivered",               "JobFinished" },
        { "Queued, expiry passed",                   "Transient",               "JobAttemptFailed" },
        { "Queued, expiry passed",                   "Transient, last attempt", "JobFailed" },
        { "Queued, expiry passed",                   "Permanent",               "JobFailed" },
        { "Queued, expiry passed",                   "Aborted by the cancel",   "JobCanceled" },
        { "Queued, expiry passed",                   "PoisonMessage",           "JobFailed" },

        { "Queued, cancellation requested",          "Cancel",                  "-" },
        { "Queued, cancellation requested",          "ExpiryDue",               "-" },
        { "Queued, cancellation requested",          "Stuck",                   "JobCanceled" },
        { "Queued, cancellation requested",          "SendTime",                "-" },
        { "Queued, cancellation requested",          "Change",                  "JobExpiryChanged, JobParamsUpdated" },
        { "Queued, cancellation requested",          "Change the send time",    "-" },
        { "Queued, cancellation requested",          "Retry",                   "-" },
        { "Queued, cancellation requested",          "Redrive",                 "-" },
        { "Queued, cancellation requested",          "ParamsErased",            "JobParamsErased" },
        { "Queued, cancellation requested",          "Erasure",                 "-" },
        { "Queued, cancellation requested",          "PickUp",                  "JobCanceled" },
        { "Queued, cancellation requested",          "Delivered",               "JobFinished" },
        { "Queued, cancellation requested",          "Transient",               "JobCanceled" },
        { "Queued, cancellation requested",          "Transient, last attempt", "JobCanceled" },
        { "Queued, cancellation requested",          "Permanent",               "JobCanceled" },
        { "Queued, cancellation requested",          "Aborted by the cancel",   "JobCanceled" },
        { "Queued, cancellation requested",          "PoisonMessage",           "JobFailed" },

        // Not pending any more (an attempt was made): its expiry and params stay as they are.
        { "Queued for attempt 2",                    "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Queued for attempt 2",                    "ExpiryDue",               "-" },
        { "Queued for attempt 2",                    "Stuck",                   "JobRequeued" },
        { "Queued for attempt 2",                    "SendTime",                "-" },
        { "Queued for attempt 2",                    "Change",                  "-" },
        { "Queued for attempt 2",                    "Change the send time",    "-" },
        { "Queued for attempt 2",                    "Retry",                   "-" },
        { "Queued for attempt 2",                    "Redrive",                 "-" },
        { "Queued for attempt 2",                    "ParamsErased",            "JobParamsErased" },
        { "Queued for attempt 2",                    "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Queued for attempt 2",                    "PickUp",                  "JobStarted" },
        { "Queued for attempt 2",                    "Delivered",               "JobFinished" },
        { "Queued for attempt 2",                    "Transient",               "JobAttemptFailed" },
        { "Queued for attempt 2",                    "Transient, last attempt", "JobFailed" },
        { "Queued for attempt 2",                    "Permanent",               "JobFailed" },
        { "Queued for attempt 2",                    "Aborted by the cancel",   "JobCanceled" },
        { "Queued for attempt 2",                    "PoisonMessage",           "JobFailed" },

        // The reconciler re-queued it (generation 1): the worker's generation-0 message and attempt are stale, except a
        // delivery, which is the truth.
        { "Queued, message of an older generation",  "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Queued, message of an older generation",  "ExpiryDue",               "-" },
        { "Queued, message of an older generation",  "Stuck",                   "JobRequeued" },
        { "Queued, message of an older generation",  "SendTime",                "-" },
        { "Queued, message of an older generation",  "Change",                  "-" },
        { "Queued, message of an older generation",  "Change the send time",    "-" },
        { "Queued, message of an older generation",  "Retry",                   "-" },
        { "Queued, message of an older generation",  "Redrive",                 "-" },
        { "Queued, message of an older generation",  "ParamsErased",            "JobParamsErased" },
        { "Queued, message of an older generation",  "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Queued, message of an older generation",  "PickUp",                  "-" },
        { "Queued, message of an older generation",  "Delivered",               "JobFinished" },
        { "Queued, message of an older generation",  "Transient",               "-" },
        { "Queued, message of an older generation",  "Transient, last attempt", "-" },
        { "Queued, message of an older generation",  "Permanent",               "-" },
        { "Queued, message of an older generation",  "Aborted by the cancel",   "-" },
        { "Queued, message of an older generation",  "PoisonMessage",           "JobFailed" },

        { "Queued, another adapter's",               "Cancel",                  "JobCancellationRequested, JobCanceled" },
        { "Queued, another adapter's",               "ExpiryDue",               "-" },
        { "Queued, another adapter's",               "Stuck",                   "JobRequeued" },
        { "Queued, another adapter's",               "SendTime",                "-" },
        { "Queued, another adapter's",               "Change",                  "JobExpiryChanged, JobParamsUpdated" },
        { "Queued, another adapter's",               "Change the send time",    "-" },
        { "Queued, another adapter's",               "Retry",                   "-" },
        { "Queued, another adapter's",               "Redrive",                 "-" },
        { "Queued, another adapter's",               "ParamsErased",            "JobParamsErased" },
        { "Queued, another adapter's",               "Erasure",                 "JobCancellationRequested, JobCanceled, JobParamsErased" },
        { "Queued, another adapter's",               "PickUp",                  "-" },
        { "Queued, another adapter's",               "Delivered",               "JobFinished" },
        { "Queued, another adapter's",               "Transient",               "JobAttemptFailed" },
        { "Queued, another adapter's",               "Transient, last attempt", "JobFailed" },
        { "Queued, another adapter's",               "Permanent",               "JobFailed" },
        { "Queued, another adapter's",               "Aborted by the cancel",   "JobCanceled" },
        { "Queued, another adapter's",               "PoisonMessage",           "JobFailed" },

        { "Started",                                 "Cancel",                  "JobCancellationRequested" },
        { "Started",                                 "ExpiryDue",               "-" },
        { "Started",                                 "Stuck",                   "JobPossibleDuplicate, JobRequeued" },
        { "Started",                                 "SendTime",                "-" },
        { "Started",                                 "Change",                  "-" },
        { "Started",                                 "Change the send time",    "-" },
        { "Started",                                 "Retry",                   "-" },
        { "Started",                                 "Redrive",                 "-" },
        { "Started",                                 "ParamsErased",            "JobParamsErased" },
        { "Started",                                 "Erasure",                 "-" },
        { "Started",                                 "PickUp",                  "JobPossibleDuplicate, JobStarted" },
        { "Started",                                 "Delivered",               "JobFinished" },
        { "Started",                                 "Transient",               "JobAttemptFailed" },
        { "Started",                                 "Transient, last attempt", "JobFailed" },
        { "Started",                                 "Permanent",               "JobFailed" },
        { "Started",                                 "Aborted by the cancel",   "JobCanceled" },
        { "Started",                                 "PoisonMessage",           "JobFailed" },

        // The worker owns the outcome: a delivery still wins over the cancel (the truth), anything else ends it Canceled.
        { "Started, cancellation requested",         "Cancel",                  "-" },
        { "Started, cancellation requested",         "ExpiryDue",               "-" },
        { "Started, cancellation requested",         "Stuck",                   "JobCanceled" },
        { "Started, cancellation requested",         "SendTime",                "-" },
        { "Started, cancellation requested",         "Change",                  "-" },
        { "Started, cancellation requested",         "Change the send time",    "-" },
        { "Started, cancellation requested",         "Retry",                   "-" },
        { "Started, cancellation requested",         "Redrive",                 "-" },
        { "Started, cancellation requested",         "ParamsErased",            "JobParamsErased" },
        { "Started, cancellation requested",         "Erasure",                 "-" },
        { "Started, cancellation requested",         "PickUp",                  "JobCanceled" },
        { "Started, cancellation requested",         "Delivered",               "JobFinished" },
        { "Started, cancellation requested",         "Transient",               "JobCanceled" },
        { "Started, cancellation requested",         "Transient, last attempt", "JobCanceled" },
        { "Started, cancellation requested",         "Permanent",               "JobCanceled" },
        { "Started, cancellation requested",         "Aborted by the cancel",   "JobCanceled" },
        { "Started, cancellation requested",         "PoisonMessage",           "JobFailed" },

        // Expiry ends only a job that has not started; a started one is not cut off mid-send.
        { "Started, expiry passed",                  "Cancel",                  "JobCancellationRequested" },
        { "Started, expiry passed",                  "ExpiryDue",               "-" },
        { "Started, expiry passed",                  "Stuck",                   "JobPossibleDuplicate, JobRequeued" },
        { "Started, expiry passed",                  "SendTime",                "-" },
        { "Started, expiry passed",                  "Change",                  "-" },
        { "Started, expiry passed",                  "Change the send time",    "-" },
        { "Started, expiry passed",                  "Retry",                   "-" },
        { "Started, expiry passed",                  "Redrive",                 "-" },
        { "Started, expiry passed",                  "ParamsErased",            "JobParamsErased" },
        { "Started, expiry passed",                  "Erasure",                 "-" },
        { "Started, expiry passed",                  "PickUp",                  "JobExpired" },
        { "Started, expiry passed",                  "Delivered",               "JobFinished" },
        { "Started, expiry passed",                  "Transient",               "JobAttemptFailed" },
        { "Started, expiry passed",                  "Transient, last attempt", "JobFailed" },
        { "Started, expiry passed",                  "Permanent",               "JobFailed" },
        { "Started, expiry passed",                  "Aborted by the cancel",   "JobCanceled" },
        { "Started, expiry passed",                  "PoisonMessage",           "JobFailed" },

        // Terminal: nothing moves it, except an operator's retry of a failed job (or re-drive of a failed or expired one); its params may still be erased, once.
        { "Finished",                                "Cancel",                  "-" },
        { "Finished",                                "ExpiryDue",               "-" },
        { "Finished",                                "Stuck",                   "-" },
        { "Finished",                                "SendTime",                "-" },
        { "Finished",                                "Change",                  "-" },
        { "Finished",                                "Change the send time",    "-" },
        { "Finished",                                "Retry",                   "-" },
        { "Finished",                                "Redrive",                 "-" },
        { "Finished",                                "ParamsErased",            "JobParamsErased" },
        { "Finished",                                "Erasure",                 "JobParamsErased" },
        { "Finished",                                "PickUp",                  "-" },
        { "Finished",                                "Delivered",               "-" },
        { "Finished",                                "Transient",               "-" },
        { "Finished",                                "Transient, last attempt", "-" },
        { "Finished",                                "Permanent",               "-" },
        { "Finished",                                "Aborted by the cancel",   "-" },
        { "Finished",                                "PoisonMessage",           "-" },

        { "Failed",                                  "Cancel",                  "-" },
        { "Failed",                                  "ExpiryDue",               "-" },
        { "Failed",                                  "Stuck",                   "-" },
        { "Failed",                                  "SendTime",                "-" },
        { "Failed",                                  "Change",                  "-" },
        { "Failed",                                  "Change the send time",    "-" },
        { "Failed",                                  "Retry",                   "JobRetryRequested" },
        { "Failed",                                  "Redrive",                 "JobRetryRequested" },
        { "Failed",                                  "ParamsErased",            "JobParamsErased" },
        { "Failed",                                  "Erasure",                 "JobParamsErased" },
        { "Failed",                                  "PickUp",                  "-" },
        { "Failed",                                  "Delivered",               "-" },
        { "Failed",                                  "Transient",               "-" },
        { "Failed",                                  "Transient, last attempt", "-" },
        { "Failed",                                  "Permanent",               "-" },
        { "Failed",                                  "Aborted by the cancel",   "-" },
        { "Failed",                                  "PoisonMessage",           "-" },

        { "Failed, params erased",                   "Cancel",                  "-" },
        { "Failed, params erased",                   "ExpiryDue",               "-" },
        { "Failed, params erased",                   "Stuck",                   "-" },
        { "Failed, params erased",                   "SendTime",                "-" },
        { "Failed, params erased",                   "Change",                  "-" },
        { "Failed, params erased",                   "Change the send time",    "-" },
        { "Failed, params erased",                   "Retry",                   "-" },
        { "Failed, params erased",                   "Redrive",                 "-" },
        { "Failed, params erased",                   "ParamsErased",            "-" },
        { "Failed, params erased",                   "Erasure",                 "-" },
        { "Failed, params erased",                   "PickUp",                  "-" },
        { "Failed, params erased",                   "Delivered",               "-" },
        { "Failed, params erased",                   "Transient",               "-" },
        { "Failed, params erased",                   "Transient, last attempt", "-" },
        { "Failed, params erased",                   "Permanent",               "-" },
        { "Failed, params erased",                   "Aborted by the cancel",   "-" },
        { "Failed, params erased",                   "PoisonMessage",           "-" },

        { "Expired",                                 "Cancel",                  "-" },
        { "Expired",                                 "ExpiryDue",               "-" },
        { "Expired",                                 "Stuck",                   "-" },
        { "Expired",                                 "SendTime",                "-" },
        { "Expired",                                 "Change",                  "-" },
        { "Expired",                                 "Change the send time",    "-" },
        { "Expired",                                 "Retry",                   "-" },
        { "Expired",                                 "Redrive",                 "JobExpiryChanged, JobRetryRequested" },
        { "Expired",                                 "ParamsErased",            "JobParamsErased" },
        { "Expired",                                 "Erasure",                 "JobParamsErased" },
        { "Expired",                                 "PickUp",                  "-" },
        { "Expired",                                 "Delivered",               "-" },
        { "Expired",                                 "Transient",               "-" },
        { "Expired",                                 "Transient, last attempt", "-" },
        { "Expired",                                 "Permanent",               "-" },
        { "Expired",                                 "Aborted by the cancel",   "-" },
        { "Expired",                                 "PoisonMessage",           "-" },

        { "Canceled",                                "Cancel",                  "-" },
        { "Canceled",                                "ExpiryDue",               "-" },
        { "Canceled",                                "Stuck",                   "-" },
        { "Canceled",                                "SendTime",                "-" },
        { "Canceled",                                "Change",                  "-" },
        { "Canceled",                                "Change the send time",    "-" },
        { "Canceled",                                "Retry",                   "-" },
        { "Canceled",                                "Redrive",                 "-" },
        { "Canceled",                                "ParamsErased",            "JobParamsErased" },
        { "Canceled",                                "Erasure",                 "JobParamsErased" },
        { "Canceled",                                "PickUp",                  "-" },
        { "Canceled",                                "Delivered",               "-" },
        { "Canceled",                                "Transient",               "-" },
        { "Canceled",                                "Transient, last attempt", "-" },
        { "Canceled",                                "Permanent",               "-" },
        { "Canceled",                                "Aborted by the cancel",   "-" },
        { "Canceled",                                "PoisonMessage",           "-" },
    };

    [Theory]
    [MemberData(nameof(Transitions))]
    public void a_command_on_a_job_in_a_state_yields_these_events(string state, string command, string events)
    {
        var decided = Commands[command](Situations[state]());
        Assert.Equal(events, decided.Count == 0 ? "-" : string.Join(", ", decided.Select(e => e.GetType().Name)));
    }

    [Fact]
    public void the_table_has_one_row_for_every_state_and_command()
    {
        var rows = Transitions.Select(row => ((string)row[0], (string)row[1])).ToList();
        Assert.Equal(rows.Count, rows.Distinct().Count());
        var missing = Situations.Keys.SelectMany(s => Commands.Keys.Select(c => (s, c))).Except(rows).ToList();
        Assert.True(missing.Count == 0, $"No row for: {string.Join("; ", missing)}");
        Assert.Equal(Situations.Count * Commands.Count, rows.Count);
    }

    /// <summary>What an erasure request reports for a job in each situation (its events are the table's Erasure column).</summary>
    private static readonly Dictionary<string, ErasureOutcome> ErasureOutcomes = new()
    {
        ["Scheduled"] = ErasureOutcome.Erased,
        ["Scheduled, expiry passed"] = ErasureOutcome.Erased,
        ["Queued"] = ErasureOutcome.Erased,
        ["Queued, expiry passed"] = ErasureOutcome.Erased,
        ["Queued, cancellation requested"] = ErasureOutcome.NotEnded,
        ["Queued for attempt 2"] = ErasureOutcome.Erased,
        ["Queued, message of an older generation"] = ErasureOutcome.Erased,
        ["Queued, another adapter's"] = ErasureOutcome.Erased,
        ["Started"] = ErasureOutcome.NotEnded,
        ["Started, cancellation requested"] = ErasureOutcome.NotEnded,
        ["Started, expiry passed"] = ErasureOutcome.NotEnded,
        ["Finished"] = ErasureOutcome.Erased,
        ["Failed"] = ErasureOutcome.Erased,
        ["Failed, params erased"] = ErasureOutcome.AlreadyErased,
        ["Expired"] = ErasureOutcome.Erased,
        ["Canceled"] = ErasureOutcome.Erased,
    };

    [Fact]
    public void an_erasure_reports_this_outcome_in_every_situation()
    {
        var decided = Situations.ToDictionary(s => s.Key, s => JobLifecycle.OnErasure(s.Value(), "offer", "svc", Now).Outcome);
        Assert.Equal(ErasureOutcomes.OrderBy(o => o.Key), decided.OrderBy(o => o.Key));
    }

    [Fact]
    public void the_situations_cover_every_state()
    {
        Assert.Equal(Enum.GetValues<JobState>().Order(), Situations.Values.Select(s => s().State).Distinct().Order());
    }

    private static IReadOnlyList<object> Ended(Job job, DeliveryResult result, int? attempt = null, bool canceled = false) =>
        JobLifecycle.OnAttemptEnded(job, attempt ?? Math.Max(job.Attempts, 1), result, canceled, Policy, Now, jitter01: 0.5).Events;

    private static Job Scheduled(DateTimeOffset sendAt, DateTimeOffset? expireAt)
    {
        var job = new Job();
        job.Apply(new JobScheduled(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), TheAdapter.Id, TheAdapter.Name, Params, Now.AddHours(-1), sendAt, expireAt));
        return job;
    }

    private static Job Queued(DateTimeOffset? expireAt = null, Guid? adapterId = null)
    {
        var job = new Job();
        job.Apply(new JobQueued(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), adapterId ?? TheAdapter.Id, TheAdapter.Name, Params, Now.AddHours(-1), expireAt));
        return job;
    }

    private static Job Started() => Queued().With(j => new JobStarted(j.Id, 1, "w1", Now.AddMinutes(-30)));
}

file static class JobEvents
{
    /// <summary>Applies one more event, the way the inline projection does (Job.Apply by the event's type).</summary>
    public static Job With(this Job job, Func<Job, object> next)
    {
        var @event = next(job);
        typeof(Job).GetMethod(nameof(Job.Apply), [@event.GetType()])!.Invoke(job, [@event]);
        return job;
    }
}
