using System.Text.Json;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using Wolverine;
using Wolverine.Marten;

namespace NotificationService.Core.Tests.Offers;

/// <summary><see cref="UpdateOfferEndpoint.Patch"/> called directly on a loaded offer and its jobs, without a host.</summary>
public sealed class UpdateOfferEndpointTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset SendAt = Now.AddHours(1);
    private static readonly TimeProvider Clock = new FixedClock(Now);
    private static readonly (DateTimeOffset ExpireAt, DateTimeOffset SendAt) Later = (Now.AddDays(2), Now.AddHours(3));

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    /// <summary>A scheduled offer of two jobs, as the store would hand them to the endpoint.</summary>
    private static LockedOffer ScheduledOffer(Dictionary<string, string>? metadata = null)
    {
        var offer = new Offer { Id = Guid.NewGuid(), ServiceId = Guid.NewGuid(), CreatedAt = Now.AddMinutes(-5), SendAt = SendAt, Metadata = metadata };
        var jobs = new List<Job>();
        foreach (var adapter in new[] { "email", "sms" })
        {
            var job = new Job();
            job.Apply(new JobScheduled(Guid.NewGuid(), offer.Id, offer.ServiceId, Guid.NewGuid(), adapter, Json("""{"to":"ann"}"""), offer.CreatedAt, SendAt, Now.AddDays(1)));
            offer.Jobs.Add(new OfferJob(job.Id, job.AdapterId, adapter));
            jobs.Add(job);
        }
        return new LockedOffer(offer, jobs);
    }

    /// <summary>New times for the offer, and new params for its first job.</summary>
    private static UpdateOffer TimesAndParams(LockedOffer offer) =>
        new(Later.ExpireAt, Later.SendAt, null, [new JobParamsChange(offer.Jobs[0].Id, Json("""{"to":"bob"}"""))]);

    private static Dictionary<Guid, IReadOnlyList<object>> EventsByJob(IEnumerable<IMartenOp> operations) =>
        operations.OfType<AppendJobEvents>().ToDictionary(a => a.JobId, a => a.Events);

    [Fact]
    public void new_times_and_params_become_events_per_job_in_order()
    {
        var offer = ScheduledOffer();
        var (expireAt, sendAt) = Later;
        var first = offer.Jobs[0];

        var (_, operations, _) = UpdateOfferEndpoint.Patch(offer.Offer!.Id, TimesAndParams(offer), offer, Clock);

        var events = EventsByJob(operations);
        Assert.Collection(events[first.Id],
            e => Assert.Equal(new JobExpiryChanged(first.Id, expireAt, Now), e),
            e => Assert.Equal(new JobRescheduled(first.Id, sendAt, Now), e),
            e => Assert.Equal("bob", Assert.IsType<JobParamsUpdated>(e).Params.GetProperty("to").GetString()));
        var second = offer.Jobs[1];
        Assert.Equal([new JobExpiryChanged(second.Id, expireAt, Now), new JobRescheduled(second.Id, sendAt, Now)], events[second.Id]);
    }

    [Fact]
    public void a_metadata_only_change_appends_no_event_and_sends_nothing()
    {
        var offer = ScheduledOffer();
        var (_, operations, messages) = UpdateOfferEndpoint.Patch(offer.Offer!.Id, new UpdateOffer(null, null, new() { ["a"] = "1" }, null), offer, Clock);

        Assert.All(EventsByJob(operations).Values, Assert.Empty);
        Assert.Empty(messages);
    }

    [Fact]
    public void a_new_send_time_schedules_a_new_message_for_each_job()
    {
        var offer = ScheduledOffer();
        var sendAt = Now.AddHours(5);
        var (_, _, messages) = UpdateOfferEndpoint.Patch(offer.Offer!.Id, new UpdateOffer(null, sendAt, null, null), offer, Clock);

        var timers = messages.OfType<ScheduledMessage<QueueScheduledJob>>().ToList();
        Assert.Equal(messages.Count, timers.Count);
        Assert.Equal(offer.Jobs.Select(j => new QueueScheduledJob(j.Id, j.AdapterId, sendAt)), timers.Select(t => t.Message));
        Assert.All(timers, t => Assert.Equal(sendAt, t.Options.ScheduledTime));
    }

    [Fact]
    public void metadata_is_merged_keys_left_out_stay_and_null_removes_one()
    {
        var offer = ScheduledOffer(new() { ["keep"] = "1", ["change"] = "2", ["drop"] = "3" });
        var command = new UpdateOffer(null, null, new() { ["change"] = "20", ["drop"] = null, ["add"] = "4" }, null);

        var (view, operations, _) = UpdateOfferEndpoint.Patch(offer.Offer!.Id, command, offer, Clock);

        var expected = new Dictionary<string, string> { ["keep"] = "1", ["change"] = "20", ["add"] = "4" };
        Assert.Equal(expected, view.Metadata);
        Assert.Equal(expected, ((Offer)operations.OfType<UpdateDoc<Offer>>().Single().Document).Metadata);
    }

    [Fact]
    public void the_response_shows_the_offer_and_jobs_as_the_commit_leaves_them()
    {
        var offer = ScheduledOffer();
        var (expireAt, sendAt) = Later;

        var (view, _, _) = UpdateOfferEndpoint.Patch(offer.Offer!.Id, TimesAndParams(offer), offer, Clock);

        Assert.Equal((expireAt, sendAt), (view.ExpireAt, view.SendAt));
        Assert.All(view.Jobs, j => Assert.Equal((expireAt, sendAt, JobState.Scheduled), (j.ExpireAt, j.SendAt, j.State)));
        Assert.Equal(["bob", "ann"], view.Jobs.Select(j => j.Params.GetProperty("to").GetString()));
    }
}
