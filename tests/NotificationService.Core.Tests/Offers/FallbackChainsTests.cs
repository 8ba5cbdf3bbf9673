using System.Text.Json;
using NotificationService.Core.Offers;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Offers;

/// <summary>The fallback chain's decisions (<see cref="FallbackChains"/>) and the failover route (<see cref="Failover"/>), without a host.</summary>
public sealed class FallbackChainsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid ServiceId = Guid.NewGuid();
    private static readonly Guid FirstJob = Guid.NewGuid();

    private static Adapter NewAdapter(string name, string type = "sms", AdapterStatus status = AdapterStatus.Active, string? failover = null) => new()
    {
        Id = Guid.NewGuid(), Name = name, Type = type, Queue = $"adapter.{name}", Status = status,
        Policy = new DeliveryPolicy { FailoverAdapter = failover, DefaultTtlSeconds = 3600 },
    };

    private static readonly Adapter Telegram = NewAdapter("tg", "telegram");
    private static readonly Adapter Sms = NewAdapter("sms");
    private static readonly Adapter Email = NewAdapter("mail", "email");

    private static Dictionary<string, Adapter> Adapters(params Adapter[] adapters) => adapters.ToDictionary(a => a.Name);

    private static Offer NewOffer(int? afterSeconds = 60) => new()
    {
        Id = Guid.NewGuid(), ServiceId = ServiceId, CreatedAt = Now.AddMinutes(-1),
        Jobs = [new OfferJob(FirstJob, Telegram.Id, Telegram.Name)],
        Chains =
        [
            new FallbackChain
            {
                Target = 0, AfterSeconds = afterSeconds,
                Steps =
                [
                    new ChainStep { Adapter = "tg", JobId = FirstJob, StartedAt = Now.AddMinutes(-1) },
                    new ChainStep { Adapter = "sms", Params = JsonDocument.Parse("""{"to":"+4912345","text":"hi"}""").RootElement },
                    new ChainStep { Adapter = "mail", Params = JsonDocument.Parse("""{"to":"a@example.test"}""").RootElement },
                ],
            },
        ],
    };

    private static Job JobIn(JobState state, bool cancellationRequested = false, DateTimeOffset? sendAt = null) => new()
    {
        Id = FirstJob, ServiceId = ServiceId, AdapterId = Telegram.Id, AdapterName = "tg", State = state, SendAt = sendAt,
        CancellationRequested = cancellationRequested, Attempts = state == JobState.Started ? 1 : 0,
    };

    private static StartFallbackStep Due(bool timer = false) => new(Guid.Empty, FirstJob, 1, timer);

    [Theory]
    [InlineData(JobState.Failed)]
    [InlineData(JobState.Expired)]
    public void a_step_that_failed_or_expired_starts_the_next_step_with_its_params(JobState state)
    {
        var offer = NewOffer();
        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(state), Adapters(Sms, Email), Now);

        var started = Assert.IsType<StartedStep>(decision.Started);
        Assert.Equal((1, FallbackChains.StepJobId(FirstJob, 1), Sms.Id), (started.Step, started.JobId, started.Adapter.Id));
        var queued = Assert.IsType<JobQueued>(started.Events[0]);
        Assert.Equal(("+4912345", offer.Id, Now.AddSeconds(3600)), (queued.Params.GetProperty("to").GetString(), queued.OfferId, queued.ExpireAt));
        Assert.Equal(new JobFallbackStarted(started.JobId, FirstJob, 1, state.ToString(), Now), started.Events[1]);
        Assert.Equal([new JobFellBack(FirstJob, started.JobId, 1, state.ToString(), Now)], decision.PreviousJobEvents);
        Assert.Equal(Now.AddSeconds(60), started.TimerAt); // the next step's own timer
        Assert.True(decision.OfferChanged);
        // The params moved into the job: the offer keeps only the later step's.
        Assert.Null(offer.Chains![0].Steps[1].Params);
        Assert.Equal(started.JobId, offer.Chains[0].Steps[1].JobId);
        Assert.Contains(offer.Jobs, j => j.JobId == started.JobId);
    }

    [Fact]
    public void a_second_message_for_a_step_already_started_does_nothing()
    {
        var offer = NewOffer();
        Assert.NotNull(FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Failed), Adapters(Sms, Email), Now).Started);

        Assert.Same(StepDecision.Nothing, FallbackChains.OnStepDue(offer, Due(timer: true), JobIn(JobState.Failed), Adapters(Sms, Email), Now));
        Assert.Same(StepDecision.Nothing, FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Failed), Adapters(Sms, Email), Now));
    }

    [Fact]
    public void the_timer_of_a_job_not_started_cancels_it_and_starts_the_next_step_in_the_same_decision()
    {
        var decision = FallbackChains.OnStepDue(NewOffer(), Due(timer: true), JobIn(JobState.Queued), Adapters(Sms, Email), Now);

        Assert.NotNull(decision.Started);
        Assert.False(decision.Broadcast);
        Assert.Equal(["JobCancellationRequested", "JobCanceled", "JobFellBack"], decision.PreviousJobEvents.Select(e => e.GetType().Name));
        Assert.Equal("NotFinishedInTime", ((JobFellBack)decision.PreviousJobEvents[^1]).Reason);
    }

    [Fact]
    public void the_timer_of_a_job_being_sent_asks_its_worker_to_abort_it_and_the_next_step_waits_for_its_end()
    {
        var offer = NewOffer();
        var decision = FallbackChains.OnStepDue(offer, Due(timer: true), JobIn(JobState.Started), Adapters(Sms, Email), Now);

        Assert.Null(decision.Started); // no second live job while the first may still reach the recipient
        Assert.True(decision.Broadcast);
        Assert.True(decision.OfferChanged);
        Assert.Equal(["JobCancellationRequested"], decision.PreviousJobEvents.Select(e => e.GetType().Name));
        Assert.Equal(Now, offer.Chains![0].Steps[0].TimedOutAt);
        Assert.NotNull(offer.Chains[0].Steps[1].Params);
        // The timer again, or a stale message, while the cancel is pending: still waiting.
        Assert.Same(StepDecision.Nothing, FallbackChains.OnStepDue(offer, Due(timer: true), JobIn(JobState.Started, cancellationRequested: true), Adapters(Sms, Email), Now));
        Assert.Same(StepDecision.Nothing, FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Started, cancellationRequested: true), Adapters(Sms, Email), Now));
    }

    [Fact]
    public void a_job_canceled_because_its_time_ran_out_starts_the_next_step()
    {
        var offer = NewOffer();
        FallbackChains.OnStepDue(offer, Due(timer: true), JobIn(JobState.Started), Adapters(Sms, Email), Now);

        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Canceled, cancellationRequested: true), Adapters(Sms, Email), Now.AddSeconds(2));

        var started = Assert.IsType<StartedStep>(decision.Started);
        Assert.Equal((1, Sms.Id), (started.Step, started.Adapter.Id));
        Assert.Equal(["JobFellBack"], decision.PreviousJobEvents.Select(e => e.GetType().Name));
        Assert.Equal("NotFinishedInTime", ((JobFellBack)decision.PreviousJobEvents[0]).Reason);
        Assert.Null(offer.Chains![0].EndedAt);
    }

    [Fact]
    public void a_job_that_finished_after_its_time_ran_out_ends_the_chain_finished()
    {
        var offer = NewOffer();
        FallbackChains.OnStepDue(offer, Due(timer: true), JobIn(JobState.Started), Adapters(Sms, Email), Now);

        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Finished, cancellationRequested: true), Adapters(Sms, Email), Now.AddSeconds(2));

        Assert.Null(decision.Started);
        Assert.Equal("Finished", offer.Chains![0].Outcome);
    }

    [Fact]
    public void a_step_whose_params_do_not_match_its_failovers_schema_is_skipped_for_the_next()
    {
        var offer = NewOffer();
        var errors = new Dictionary<(int, string), string> { [(1, "sms-b")] = "params.to is required" };
        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Failed),
            Adapters(NewAdapter("sms", status: AdapterStatus.Blocked, failover: "sms-b"), NewAdapter("sms-b"), Email), Now, paramsErrors: errors);

        Assert.Equal((2, Email.Id), (decision.Started!.Step, decision.Started.Adapter.Id));
        Assert.Equal("Its params do not match the params schema of adapter 'sms-b': params.to is required", offer.Chains![0].Steps[1].Reason);
        Assert.Null(offer.Chains[0].Steps[1].Params);
    }

    [Fact]
    public void a_step_after_a_job_whose_stream_is_gone_ends_the_chain_deleted()
    {
        var offer = NewOffer();
        var decision = FallbackChains.OnStepDue(offer, Due(timer: true), null, Adapters(Sms, Email), Now);

        Assert.True(decision.OfferChanged);
        Assert.Equal((Now, "Deleted"), (offer.Chains![0].EndedAt, offer.Chains[0].Outcome));
        Assert.All(offer.Chains[0].Steps, s => Assert.Null(s.Params));
    }

    [Fact]
    public void the_timer_of_a_job_still_waiting_for_its_send_time_looks_again_after_it()
    {
        var sendAt = Now.AddMinutes(5);
        var decision = FallbackChains.OnStepDue(NewOffer(), Due(timer: true), JobIn(JobState.Scheduled, sendAt: sendAt), Adapters(Sms, Email), Now);

        Assert.Null(decision.Started);
        Assert.Equal(sendAt.AddSeconds(60), decision.CheckAgainAt);
    }

    [Theory]
    [InlineData(JobState.Finished, false, "Finished")]
    [InlineData(JobState.Canceled, false, "Canceled")]
    [InlineData(JobState.Queued, true, "Canceled")] // the job's end said canceled before the worker recorded it
    public void a_finished_or_canceled_step_ends_the_chain_and_drops_the_later_steps_params(JobState state, bool cancellationRequested, string outcome)
    {
        var offer = NewOffer();
        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(state, cancellationRequested), Adapters(Sms, Email), Now);

        Assert.Null(decision.Started);
        Assert.True(decision.OfferChanged);
        Assert.Equal((Now, outcome), (offer.Chains![0].EndedAt, offer.Chains[0].Outcome));
        Assert.All(offer.Chains[0].Steps, s => Assert.Null(s.Params));
        // Anything arriving later for the ended chain is a no-op.
        Assert.Same(StepDecision.Nothing, FallbackChains.OnStepDue(offer, Due(timer: true), JobIn(JobState.Failed), Adapters(Sms, Email), Now));
    }

    [Fact]
    public void the_timer_of_a_job_whose_cancel_is_pending_does_not_fall_back()
    {
        Assert.Same(StepDecision.Nothing,
            FallbackChains.OnStepDue(NewOffer(), Due(timer: true), JobIn(JobState.Started, cancellationRequested: true), Adapters(Sms, Email), Now));
    }

    [Fact]
    public void a_message_for_a_job_not_ended_that_is_not_the_timer_is_stale()
    {
        Assert.Same(StepDecision.Nothing, FallbackChains.OnStepDue(NewOffer(), Due(), JobIn(JobState.Queued), Adapters(Sms, Email), Now));
    }

    [Theory]
    [InlineData("deleted", "Deleted")]
    [InlineData("erased", "Erased")]
    [InlineData("expired", "Expired")]
    public void a_deleted_erased_or_expired_offer_starts_no_step(string what, string outcome)
    {
        var offer = NewOffer();
        if (what == "deleted") offer.DeletedAt = Now;
        if (what == "erased") offer.ErasedAt = Now;
        if (what == "expired") offer.ExpireAt = Now;

        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Failed), Adapters(Sms, Email), Now);

        Assert.Null(decision.Started);
        Assert.Equal(outcome, offer.Chains![0].Outcome);
    }

    [Fact]
    public void a_step_whose_adapter_is_blocked_with_no_failover_is_skipped_for_the_next()
    {
        var offer = NewOffer();
        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Failed), Adapters(NewAdapter("sms", status: AdapterStatus.Blocked), Email), Now);

        Assert.Equal((2, Email.Id), (decision.Started!.Step, decision.Started.Adapter.Id));
        Assert.Equal("Adapter 'sms' is blocked.", offer.Chains![0].Steps[1].Reason);
        Assert.Equal(Now, offer.Chains[0].Steps[1].SkippedAt);
        Assert.Null(decision.Started.TimerAt); // the last step has no timer
    }

    [Fact]
    public void the_last_step_failing_ends_the_chain_exhausted()
    {
        var offer = NewOffer();
        offer.Chains![0].Steps.RemoveRange(1, 2);
        var decision = FallbackChains.OnStepDue(offer, Due(), JobIn(JobState.Failed), Adapters(), Now);

        Assert.Null(decision.Started);
        Assert.Equal("Exhausted", offer.Chains[0].Outcome);
    }

    [Fact]
    public void a_step_for_a_blocked_adapter_goes_to_its_failover_and_says_so()
    {
        var decision = FallbackChains.OnStepDue(NewOffer(), Due(), JobIn(JobState.Failed),
            Adapters(NewAdapter("sms", status: AdapterStatus.Blocked, failover: "sms-b"), NewAdapter("sms-b"), Email), Now);

        Assert.Equal("sms-b", decision.Started!.Adapter.Name);
        Assert.Equal(new JobRoutedToFailover(decision.Started.JobId, "sms", "sms-b", "blocked", Now), decision.Started.Events[2]);
    }

    [Fact]
    public void the_job_id_of_a_step_is_the_same_every_time_and_differs_per_step()
    {
        Assert.Equal(FallbackChains.StepJobId(FirstJob, 1), FallbackChains.StepJobId(FirstJob, 1));
        Assert.NotEqual(FallbackChains.StepJobId(FirstJob, 1), FallbackChains.StepJobId(FirstJob, 2));
        Assert.NotEqual(FallbackChains.StepJobId(FirstJob, 1), FallbackChains.StepJobId(Guid.NewGuid(), 1));
        Assert.Equal(5, FallbackChains.StepJobId(FirstJob, 1).Version);
    }

    [Fact]
    public void deleting_or_erasing_the_offer_stops_its_chains_and_drops_the_kept_params()
    {
        var offer = NewOffer();
        FallbackChains.Stop(offer, "Erased", Now);
        Assert.Equal((Now, "Erased"), (offer.Chains![0].EndedAt, offer.Chains[0].Outcome));
        Assert.All(offer.Chains[0].Steps, s => Assert.Null(s.Params));
    }

    [Fact]
    public void the_subscription_sends_one_message_per_ended_step_of_a_running_chain()
    {
        var offer = NewOffer();
        var ended = new Offer { Id = Guid.NewGuid(), Chains = [new FallbackChain { EndedAt = Now, Steps = [new ChainStep { JobId = FirstJob }] }] };

        Assert.Equal([new StartFallbackStep(offer.Id, FirstJob, 1, false)], FallbackSubscription.Dispatch([FirstJob, Guid.NewGuid()], [offer, ended]));
    }

    // ---- AdapterHealth: failing since when ----

    private static JasperFx.Events.IEvent Event(Guid jobId, object data)
    {
        var e = (JasperFx.Events.IEvent)Activator.CreateInstance(typeof(JasperFx.Events.Event<>).MakeGenericType(data.GetType()), data)!;
        e.StreamId = jobId;
        return e;
    }

    [Fact]
    public void an_adapter_fails_from_its_first_transient_failure_until_a_job_is_delivered()
    {
        var (job, other) = (Guid.NewGuid(), Guid.NewGuid());
        var adapters = new Dictionary<Guid, Guid> { [job] = Sms.Id, [other] = Sms.Id };
        var health = new Dictionary<Guid, AdapterHealth>();

        var changed = AdapterHealth.Track(
            [Event(job, new JobAttemptFailed(job, 1, "503", Now, Now)), Event(other, new JobAttemptFailed(other, 1, "503", Now.AddSeconds(5), Now))], adapters, health);
        var sms = Assert.Single(changed);
        Assert.Equal((Sms.Id, Now, Now.AddSeconds(5)), (sms.Id, sms.FailingSince, sms.LastFailureAt));

        // Failing for 300 s with the last failure within them: failover; once no job has failed for that long: not any more.
        Assert.Equal(Now, sms.FailingAsOf(Now.AddSeconds(300), TimeSpan.FromSeconds(300)));
        Assert.Null(sms.FailingAsOf(Now.AddSeconds(306), TimeSpan.FromSeconds(300)));

        Assert.Same(sms, Assert.Single(AdapterHealth.Track([Event(other, new JobFinished(other, 2, Now.AddSeconds(6), null))], adapters, health)));
        Assert.Null(sms.FailingSince);
        Assert.Empty(AdapterHealth.Track([Event(other, new JobFinished(other, 2, Now.AddSeconds(7), null))], adapters, health)); // nothing changed
    }

    // ---- Failover.Resolve ----

    private static Adapter? ByName(string name) => name switch { "sms-b" => NewAdapter("sms-b"), "mail-b" => NewAdapter("mail-b", "email"), _ => null };

    [Fact]
    public void an_active_adapter_keeps_its_jobs() =>
        Assert.Equal(new Route(Sms, null, null), Failover.Resolve(Sms, ByName, ServiceId, null, Now));

    [Fact]
    public void a_blocked_adapter_routes_to_its_failover()
    {
        var route = Failover.Resolve(NewAdapter("sms", status: AdapterStatus.Blocked, failover: "sms-b"), ByName, ServiceId, null, Now);
        Assert.Equal(("sms-b", "blocked"), (route.Adapter!.Name, route.Reason));
    }

    [Theory]
    [InlineData(null, "Adapter 'sms' is blocked.")]
    [InlineData("gone", "Adapter 'sms' is blocked. Its failover adapter 'gone' is not available to this service either.")]
    [InlineData("mail-b", "Adapter 'sms' is blocked. Its failover adapter 'mail-b' is not available to this service either.")] // another type
    public void a_blocked_adapter_without_a_usable_failover_takes_no_job(string? failover, string error) =>
        Assert.Equal(new Route(null, null, error), Failover.Resolve(NewAdapter("sms", status: AdapterStatus.Blocked, failover: failover), ByName, ServiceId, null, Now));

    [Fact]
    public void an_adapter_failing_longer_than_its_bound_routes_to_its_failover_and_shorter_does_not()
    {
        var failing = NewAdapter("sms", failover: "sms-b");
        Assert.Equal("sms-b", Failover.Resolve(failing, ByName, ServiceId, Now.AddSeconds(-300), Now).Adapter!.Name);
        Assert.Equal("failing", Failover.Resolve(failing, ByName, ServiceId, Now.AddSeconds(-300), Now).Reason);
        Assert.Same(failing, Failover.Resolve(failing, ByName, ServiceId, Now.AddSeconds(-299), Now).Adapter);
        // Failing with no failover: it keeps its jobs (its retries may still get them through).
        Assert.Same(Sms, Failover.Resolve(Sms, ByName, ServiceId, Now.AddHours(-1), Now).Adapter);
    }
}
