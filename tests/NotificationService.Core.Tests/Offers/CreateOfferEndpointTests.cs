using System.Security.Claims;
using System.Text.Json;
using NotificationService.Contracts;
using NotificationService.Core.Auth;
using NotificationService.Core.Jobs;
using NotificationService.Core.Limits;
using NotificationService.Core.Offers;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Marten;

namespace NotificationService.Core.Tests.Offers;

/// <summary><see cref="CreateOfferEndpoint.Post"/> called directly: what one offer stores and sends, without a host.</summary>
public sealed class CreateOfferEndpointTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid ServiceId = Guid.NewGuid();
    private static readonly TimeProvider Clock = new FixedClock(Now);
    private static readonly ClaimsPrincipal User = new(new ClaimsIdentity([new Claim(ApiKeyAuthenticationHandler.ServiceIdClaim, ServiceId.ToString())], "test"));
    private static readonly EffectiveLimits Limits = new(100, 100, 100, 1000, 1_048_576, 65_536);

    private static readonly Adapter Email = new()
    {
        Id = Guid.NewGuid(), Name = "email", Queue = "adapter.email", Status = AdapterStatus.Active,
        Policy = new DeliveryPolicy { DefaultTtlSeconds = 3600 },
    };

    private static readonly Adapter Sms = new() { Id = Guid.NewGuid(), Name = "sms", Queue = "adapter.sms", Status = AdapterStatus.Active };

    private static FairShare NewFairShare() => new(new FairShare.Settings(TimeSpan.FromSeconds(10), 50), Clock);

    private static OfferContext Context(string? key = null, IdempotentRequest? earlier = null) =>
        new(new Dictionary<string, Adapter> { ["email"] = Email, ["sms"] = Sms }, key, key is null ? "" : "hash-1", earlier, Limits, Guid.NewGuid());

    private static CreateOffer Offer(DateTimeOffset? sendAt = null, DateTimeOffset? expireAt = null) => new(
        [new OfferTarget("email", JsonDocument.Parse("""{"to":"ann@example.test"}""").RootElement), new OfferTarget("sms", JsonDocument.Parse("""{"to":"+4912345678"}""").RootElement)],
        expireAt, sendAt, new Dictionary<string, string> { ["customer"] = "acme" });

    private static List<StartJobStream> Streams(IEnumerable<IMartenOp> operations) => operations.OfType<StartJobStream>().ToList();

    [Fact]
    public void an_immediate_offer_queues_each_job_and_sends_it_to_its_adapters_queue()
    {
        var context = Context();
        var (accepted, operations, sent) = CreateOfferEndpoint.Post(Offer(), context, User, Clock, NewFairShare());
        var messages = sent.Messages;

        Assert.Equal(context.OfferId, accepted.Id);
        Assert.All(accepted.Jobs, j => Assert.Equal(JobState.Queued, j.State));
        var offer = (Offer)operations.OfType<InsertDoc<Offer>>().Single().Document;
        Assert.Equal((ServiceId, Now, "acme"), (offer.ServiceId, offer.CreatedAt, offer.Metadata!["customer"]));

        var streams = Streams(operations);
        Assert.Equal(accepted.Jobs.Select(j => j.Id), streams.Select(s => s.JobId));
        var queued = streams.Select(s => Assert.IsType<JobQueued>(Assert.Single(s.Events))).ToList();
        Assert.Equal([Email.Id, Sms.Id], queued.Select(q => q.AdapterId));
        Assert.All(queued, q => Assert.Equal((offer.Id, ServiceId, Now), (q.OfferId, q.ServiceId, q.QueuedAt)));

        var deliveries = messages.OfType<RoutedToEndpointMessage<DeliverJob>>().ToList();
        Assert.Equal(messages.Count, deliveries.Count);
        Assert.Equal(accepted.Jobs.Select(j => j.Id), deliveries.Select(d => d.Message.JobId));
        Assert.Equal([Topology.QueueUri(Email.Queue), Topology.QueueUri(Sms.Queue)], deliveries.Select(d => d.Destination));
        Assert.All(deliveries, d => Assert.Equal(0, d.Message.Generation));
        // The offer and its job streams, nothing else: the stored offer claims its pending-jobs reservation by existing.
        Assert.Equal(1 + streams.Count, operations.Count());
    }

    [Fact]
    public void a_scheduled_offer_waits_as_a_scheduled_message_at_its_send_time()
    {
        var sendAt = Now.AddHours(2);
        var (accepted, operations, sent) = CreateOfferEndpoint.Post(Offer(sendAt), Context(), User, Clock, NewFairShare());
        var messages = sent.Messages;

        Assert.All(accepted.Jobs, j => Assert.Equal(JobState.Scheduled, j.State));
        var scheduled = Streams(operations).Select(s => Assert.IsType<JobScheduled>(Assert.Single(s.Events))).ToList();
        Assert.All(scheduled, s => Assert.Equal((sendAt, Now), (s.SendAt, s.CreatedAt)));
        var timers = messages.OfType<ScheduledMessage<QueueScheduledJob>>().ToList();
        Assert.Equal(messages.Count, timers.Count);
        Assert.Equal(accepted.Jobs.Select(j => j.Id), timers.Select(t => t.Message.JobId));
        Assert.All(timers, t => Assert.Equal((sendAt, sendAt), (t.Message.SendAt, t.Options.ScheduledTime!.Value)));
        Assert.Equal([Email.Id, Sms.Id], timers.Select(t => t.Message.AdapterId));
    }

    [Fact]
    public void a_templated_fallback_step_is_kept_rendered_with_the_template_version_it_used()
    {
        var template = new NotificationService.Core.Templates.Template
        {
            Id = Guid.NewGuid(), Key = "late", OwnerId = ServiceId, Type = "sms", DefaultLocale = "en", Version = 3,
            Variants = new() { ["en"] = JsonDocument.Parse("""{"to":"{{ phone }}","text":"Hi {{ name }}"}""").RootElement.Clone() },
        };
        var context = Context() with { Templates = new Dictionary<string, NotificationService.Core.Templates.Template> { ["late"] = template } };
        var step = new FallbackStep("sms", default, Template: "late", Data: JsonDocument.Parse("""{"phone":"+4912345678","name":"Ann"}""").RootElement);
        var target = new OfferTarget("email", JsonDocument.Parse("""{"to":"ann@example.test"}""").RootElement, Fallback: [step]);
        // What Validate rendered and checked. Review 11: Post keeps exactly that and does not render again (a render
        // that differs the second time, like "now" | date, stands in here as other data).
        context.Rendered["targets[0].fallback[0]"] = NotificationService.Core.Templates.TemplateRendering.Render(
            template, null, JsonDocument.Parse("""{"phone":"+4912345678","name":"Checked"}""").RootElement, "targets[0].fallback[0]");

        var (_, operations, _) = CreateOfferEndpoint.Post(new CreateOffer([target], null, null, null), context, User, Clock, NewFairShare());

        var kept = Assert.Single(((Offer)operations.OfType<InsertDoc<Offer>>().Single().Document).Chains!).Steps[1];
        Assert.Equal(("+4912345678", "Hi Checked"), (kept.Params!.Value.GetProperty("to").GetString(), kept.Params.Value.GetProperty("text").GetString()));
        Assert.Equal(new TemplateUse("late", 3, "en", false, template.Id), kept.Template);
    }

    [Fact]
    public void a_target_with_fallback_steps_keeps_them_on_the_offer_and_schedules_its_first_timer_from_the_send_time()
    {
        var sendAt = Now.AddHours(2);
        var target = new OfferTarget("email", JsonDocument.Parse("""{"to":"ann@example.test"}""").RootElement,
            Fallback: [new FallbackStep("sms", JsonDocument.Parse("""{"to":"+4912345678"}""").RootElement)], FallbackAfterSeconds: 300);
        var (accepted, operations, sent) = CreateOfferEndpoint.Post(new CreateOffer([target], null, sendAt, null), Context(), User, Clock, NewFairShare());
        var messages = sent.Messages;

        var offer = (Offer)operations.OfType<InsertDoc<Offer>>().Single().Document;
        var chain = Assert.Single(offer.Chains!);
        Assert.Equal((0, 300), (chain.Target, chain.AfterSeconds));
        Assert.Equal([("email", accepted.Jobs[0].Id), ("sms", (Guid?)null)], chain.Steps.Select(s => (s.Adapter, s.JobId)));
        Assert.Equal("+4912345678", chain.Steps[1].Params!.Value.GetProperty("to").GetString());
        Assert.Single(accepted.Jobs); // one live job per chain
        var timer = Assert.Single(messages.OfType<ScheduledMessage<StartFallbackStep>>());
        Assert.Equal((new StartFallbackStep(offer.Id, accepted.Jobs[0].Id, 1, true), sendAt.AddSeconds(300)), (timer.Message, timer.Options.ScheduledTime!.Value));
    }

    [Fact]
    public void a_target_for_a_blocked_adapter_with_a_failover_goes_there_and_its_stream_says_so()
    {
        var blocked = new Adapter { Id = Guid.NewGuid(), Name = "email-a", Type = "email", Queue = "adapter.email-a", Status = AdapterStatus.Blocked, Policy = new DeliveryPolicy { FailoverAdapter = "email-b" } };
        var failover = new Adapter { Id = Guid.NewGuid(), Name = "email-b", Type = "email", Queue = "adapter.email-b", Status = AdapterStatus.Active };
        var context = new OfferContext(new Dictionary<string, Adapter> { ["email-a"] = blocked, ["email-b"] = failover }, null, "", null, Limits, Guid.NewGuid());
        var target = new OfferTarget("email-a", JsonDocument.Parse("""{"to":"ann@example.test"}""").RootElement);

        var (accepted, operations, sent) = CreateOfferEndpoint.Post(new CreateOffer([target], null, null, null), context, User, Clock, NewFairShare());
        var messages = sent.Messages;

        Assert.Equal("email-b", accepted.Jobs[0].Adapter);
        var events = Streams(operations).Single().Events;
        Assert.Equal(failover.Id, Assert.IsType<JobQueued>(events[0]).AdapterId);
        Assert.Equal(new JobRoutedToFailover(accepted.Jobs[0].Id, "email-a", "email-b", "blocked", Now), events[1]);
        Assert.Equal(Topology.QueueUri(failover.Queue), messages.OfType<RoutedToEndpointMessage<DeliverJob>>().Single().Destination);
    }

    [Fact]
    public void the_expiry_defaults_to_the_adapters_policy_counted_from_the_send_time()
    {
        var (_, immediate, _) = CreateOfferEndpoint.Post(Offer(), Context(), User, Clock, NewFairShare());
        var queued = Streams(immediate).Select(s => (JobQueued)s.Events.Single()).ToList();
        Assert.Equal([Now.AddHours(1), null], queued.Select(q => q.ExpireAt)); // email's policy: an hour; sms has none

        var sendAt = Now.AddDays(1);
        var (_, later, _) = CreateOfferEndpoint.Post(Offer(sendAt), Context(), User, Clock, NewFairShare());
        Assert.Equal(sendAt.AddHours(1), ((JobScheduled)Streams(later)[0].Events.Single()).ExpireAt);

        var until = Now.AddMinutes(5);
        var (_, given, _) = CreateOfferEndpoint.Post(Offer(expireAt: until), Context(), User, Clock, NewFairShare());
        Assert.All(Streams(given), s => Assert.Equal(until, ((JobQueued)s.Events.Single()).ExpireAt));
    }

    [Fact]
    public void a_request_with_an_idempotency_key_stores_its_answer_with_the_offer()
    {
        var (accepted, operations, _) = CreateOfferEndpoint.Post(Offer(), Context("key-1"), User, Clock, NewFairShare());

        var record = (IdempotentRequest)operations.OfType<InsertDoc<IdempotentRequest>>().Single().Document;
        Assert.Equal((IdempotentRequest.IdFor(ServiceId, "key-1"), "hash-1", accepted.Id, Now), (record.Id, record.RequestHash, record.OfferId, record.CreatedAt));
        Assert.Equal(accepted.Jobs, record.Jobs);
    }

    [Fact]
    public void a_retry_with_the_same_key_returns_the_first_answer_and_stores_and_sends_nothing()
    {
        var earlier = new IdempotentRequest
        {
            Id = IdempotentRequest.IdFor(ServiceId, "key-1"), RequestHash = "hash-1", OfferId = Guid.NewGuid(),
            Jobs = [new AcceptedJob(Guid.NewGuid(), "email", JobState.Queued)], CreatedAt = Now.AddMinutes(-1),
        };
        var (accepted, operations, sent) = CreateOfferEndpoint.Post(Offer(), Context("key-1", earlier), User, Clock, NewFairShare());
        var messages = sent.Messages;

        Assert.Equal(earlier.OfferId, accepted.Id);
        Assert.Equal(earlier.Jobs, accepted.Jobs);
        Assert.Empty(operations);
        Assert.Empty(messages);
    }
}
