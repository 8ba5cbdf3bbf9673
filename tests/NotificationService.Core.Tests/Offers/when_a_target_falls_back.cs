using System.Text.Json;
using Alba;
using Microsoft.Extensions.DependencyInjection;
using NotificationService.Adapters.Sms;
using NotificationService.Adapters.Telegram;
using NotificationService.Contracts;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;
using Wolverine;

namespace NotificationService.Core.Tests.Offers;

/// <summary>Fallback chains end to end (README "Fallback chains"): real workers, real protocol peers, the core's subscription and timers.</summary>
public sealed class when_a_target_falls_back(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    /// <summary>An email adapter no worker serves: its jobs stay Queued until something else ends them.</summary>
    private Task<RegisteredAdapter> IdleAdapterAsync() => System.CreateEmailAdapterAsync(UniqueName("idle"), 25);

    private static object Email(string adapter) => new { adapter, @params = new { to = "ann@example.test", subject = "Code", text = "Your code is 1234" } };

    private Task<JsonElement> OfferAsync(Guid offerId) => System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{offerId}", System.Tenant.ApiKey, expect: 200);

    private static JsonElement Step(JsonElement offer, int step) => offer.GetProperty("chains")[0].GetProperty("steps")[step];

    private Task<JsonElement> WaitForStepAsync(Guid offerId, int step, Func<JsonElement, bool> done, string what) =>
        Eventually.Until(() => OfferAsync(offerId), o => done(Step(o, step)), TimeSpan.FromSeconds(30), what);

    private Task<JsonElement> WaitForOutcomeAsync(Guid offerId, string outcome) =>
        Eventually.Until(() => OfferAsync(offerId), o => o.GetProperty("chains")[0].GetProperty("outcome").ValueKind == JsonValueKind.String,
            TimeSpan.FromSeconds(30), $"the chain to end {outcome}");

    [Fact]
    public async Task a_telegram_job_that_fails_permanently_falls_back_to_sms_and_the_sms_is_delivered()
    {
        await using var botApi = await HttpPeer.StartAsync();
        botApi.Reply = _ => new PeerReply(400, """{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}""");
        await using var gateway = await HttpPeer.StartAsync();
        gateway.Reply = _ => new PeerReply(201, """{"sid":"SM1"}""");
        var telegram = await System.CreateAdapterAsync(UniqueName("tg"), "telegram", new { botToken = "4242:secret-bot-token", apiBaseUrl = botApi.BaseUrl, allowPrivateNetwork = true });
        var sms = await System.CreateAdapterAsync(UniqueName("sms"), "sms", new { baseUrl = gateway.BaseUrl, accountSid = "AC1", authToken = "tok", from = "+15550001111", allowPrivateNetwork = true });
        var telegramWorker = await System.StartWorkerAsync<TelegramSender, TelegramConfig>("telegram", telegram.ApiKey);
        var smsWorker = await System.StartWorkerAsync<SmsSender, SmsConfig>("sms", sms.ApiKey);

        OfferAccepted? offer = null;
        Guid StepJob() => FallbackChains.StepJobId(offer!.Jobs[0].Id, 1);
        await System.TrackAsync(async () => offer = await System.CreateOfferAsync(System.Tenant, new
            {
                targets = new[]
                {
                    new
                    {
                        adapter = telegram.Name, @params = new { chatId = 1, text = "Your code is 1234" },
                        fallback = new[] { new { adapter = sms.Name, @params = new { to = "+4915112345678", text = "Your code is 1234" } } },
                    },
                },
            }),
            new Handled<DeliverJob>(m => offer is not null && m.JobId == StepJob()), workers: [telegramWorker, smsWorker]);

        var first = await System.GetJobAsync(System.Tenant, offer!.Jobs[0].Id);
        Assert.Equal(JobState.Failed, first.State);
        var second = await System.GetJobAsync(System.Tenant, StepJob());
        Assert.Equal((JobState.Finished, sms.Name, offer.Id), (second.State, second.Adapter, second.OfferId));
        Assert.Contains("Body=Your+code+is+1234", Assert.Single(gateway.Requests).Body);
        Assert.Single(botApi.Requests);

        // The link, in both streams and on the offer.
        Assert.Equal(["JobQueued", "JobStarted", "JobFailed", "JobFellBack"], await System.EventTypesAsync(System.Tenant, first.Id));
        Assert.Equal(["JobQueued", "JobFallbackStarted", "JobStarted", "JobFinished"], await System.EventTypesAsync(System.Tenant, second.Id));
        var view = await WaitForOutcomeAsync(offer.Id, "Finished");
        var chain = view.GetProperty("chains")[0];
        Assert.Equal("Finished", chain.GetProperty("outcome").GetString());
        Assert.Equal([("Failed", first.Id), ("Finished", second.Id)],
            chain.GetProperty("steps").EnumerateArray().Select(s => (s.GetProperty("state").GetString()!, s.GetProperty("jobId").GetGuid())));
        Assert.Equal("Failed", Step(view, 1).GetProperty("reason").GetString());
        Assert.Equal(2, view.GetProperty("jobs").GetArrayLength());
    }

    [Fact]
    public async Task a_step_due_later_fires_after_the_core_that_accepted_it_is_gone()
    {
        var idle = await IdleAdapterAsync();
        Guid offerId, firstJob;
        DateTimeOffset stoppedAt;
        // Another core instance accepts the offer and stops before the step is due: the timer lives in PostgreSQL, not in
        // that process, and the core still running (here the test's shared one) fires it, as a restarted core would.
        await using (var acceptingCore = await AlbaHost.For<Program>(b => b.UseSetting("Admin:ApiKeys:0", SystemFixture.AdminKey)))
        {
            var result = await acceptingCore.Scenario(s =>
            {
                s.Post.Json(new { targets = new[] { new { adapter = idle.Name, @params = new { to = "ann@example.test", subject = "Code", text = "1234" },
                    fallback = new[] { Email(System.Email.Name) }, fallbackAfterSeconds = 10 } } }).ToUrl("/v1/offers");
                s.WithRequestHeader("Authorization", $"Bearer {System.Tenant.ApiKey}");
                s.StatusCodeShouldBe(202);
            });
            var accepted = await result.ReadAsJsonAsync<JsonElement>();
            (offerId, firstJob) = (accepted.GetProperty("id").GetGuid(), accepted.GetProperty("jobs")[0].GetProperty("id").GetGuid());
            Assert.Equal("NotStarted", Step(await OfferAsync(offerId), 1).GetProperty("state").GetString());
            await acceptingCore.StopAsync();
            stoppedAt = DateTimeOffset.UtcNow;
        }

        var view = await WaitForStepAsync(offerId, 1, s => s.GetProperty("state").GetString() == "Finished", "the step after 10 s to be delivered");
        Assert.Equal("NotFinishedInTime", Step(view, 1).GetProperty("reason").GetString());
        // Stopped before the next step started, so the recipient does not get both.
        var first = await System.GetJobAsync(System.Tenant, firstJob);
        Assert.Equal(JobState.Canceled, first.State);
        // The accepting core was gone before the timer was due, so it cannot have been the one that fired it.
        Assert.True(stoppedAt < first.CreatedAt.AddSeconds(10), $"the accepting core stopped at {stoppedAt:O}, after the timer was due ({first.CreatedAt.AddSeconds(10):O})");
        Assert.True(Step(view, 1).GetProperty("at").GetDateTimeOffset() - first.CreatedAt >= TimeSpan.FromSeconds(10));
        Assert.Equal(["JobQueued", "JobCancellationRequested", "JobCanceled", "JobFellBack"], await System.EventTypesAsync(System.Tenant, firstJob));
        Assert.Single(System.Smtp.Received);
    }

    [Fact]
    public async Task a_cancel_of_the_current_step_ends_the_whole_chain()
    {
        var idle = await IdleAdapterAsync();
        var other = await IdleAdapterAsync();
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { new { adapter = idle.Name, @params = new { to = "ann@example.test", subject = "Code", text = "1234" }, fallback = new[] { Email(other.Name), Email(System.Email.Name) }, fallbackAfterSeconds = 4 } },
        });
        // The first step runs out of time; the second one starts and is canceled before its own time runs out.
        var view = await WaitForStepAsync(offer.Id, 1, s => s.GetProperty("state").GetString() == "Queued", "the second step to start");
        var secondJob = Step(view, 1).GetProperty("jobId").GetGuid();
        await System.TrackAsync(async () => Assert.Equal(202, (await System.CancelJobAsync(System.Tenant, secondJob)).Status),
            new Handled<StartFallbackStep>(m => m.JobId == secondJob && m.Timer), TimeSpan.FromSeconds(30));

        view = await WaitForOutcomeAsync(offer.Id, "Canceled");
        Assert.Equal("Canceled", view.GetProperty("chains")[0].GetProperty("outcome").GetString());
        Assert.Equal(["Canceled", "Canceled", "NotStarted"], view.GetProperty("chains")[0].GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("state").GetString()));
        Assert.Equal(2, view.GetProperty("jobs").GetArrayLength());
        Assert.Empty(System.Smtp.Received);
    }

    [Fact]
    public async Task deleting_the_offer_stops_the_chain_before_its_timer()
    {
        var idle = await IdleAdapterAsync();
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { new { adapter = idle.Name, @params = new { to = "ann@example.test", subject = "Code", text = "1234" }, fallback = new[] { Email(System.Email.Name) }, fallbackAfterSeconds = 1 } },
        });

        await System.TrackAsync(() => System.ScenarioAsync(HttpMethod.Delete, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, expect: 202),
            new Handled<StartFallbackStep>(m => m.JobId == offer.Jobs[0].Id && m.Timer), TimeSpan.FromSeconds(30));

        var view = await OfferAsync(offer.Id);
        Assert.Equal("Deleted", view.GetProperty("chains")[0].GetProperty("outcome").GetString());
        Assert.Equal("NotStarted", Step(view, 1).GetProperty("state").GetString());
        Assert.Single(view.GetProperty("jobs").EnumerateArray());
        Assert.Empty(System.Smtp.Received);
    }

    [Fact]
    public async Task moving_a_scheduled_offers_send_time_earlier_moves_its_chains_first_timer()
    {
        var idle = await IdleAdapterAsync();
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            sendAt = DateTimeOffset.UtcNow.AddHours(1),
            targets = new[] { new { adapter = idle.Name, @params = new { to = "ann@example.test", subject = "Code", text = "1234" }, fallback = new[] { Email(System.Email.Name) }, fallbackAfterSeconds = 2 } },
        });

        await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, new { sendAt = DateTimeOffset.UtcNow.AddSeconds(2) }, expect: 200);

        // Due 2 s after the new send time, not an hour later.
        var view = await WaitForStepAsync(offer.Id, 1, s => s.GetProperty("state").GetString() == "Finished", "the step 2 s after the new send time to be delivered");
        Assert.Equal("NotFinishedInTime", Step(view, 1).GetProperty("reason").GetString());
        Assert.Equal(JobState.Canceled, (await System.GetJobAsync(System.Tenant, offer.Jobs[0].Id)).State);
    }

    [Fact]
    public async Task erasing_an_offers_metadata_ends_its_running_chain_erased()
    {
        var idle = await IdleAdapterAsync();
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { new { adapter = idle.Name, @params = new { to = "ann@example.test", subject = "Code", text = "1234" }, fallback = new[] { Email(System.Email.Name) }, fallbackAfterSeconds = 3600 } },
        });
        var at = DateTimeOffset.UtcNow;

        // What the retention sweep and an erasure by recipient run once the offer's last job's params are erased: the sweep
        // may then delete that job's stream, after which no message would end the chain.
        var store = System.Core.Services.GetRequiredService<Marten.IDocumentStore>();
        await using (var session = store.LightweightSession())
        {
            new NotificationService.Core.Retention.EraseOfferMetadata([offer.Id], at).Execute(session);
            await session.SaveChangesAsync();
        }

        await using var query = store.QuerySession();
        var chain = (await query.LoadAsync<Offer>(offer.Id))!.Chains![0];
        Assert.Equal("Erased", chain.Outcome);
        Assert.Equal(at, chain.EndedAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.All(chain.Steps, step => Assert.Null(step.Params));
    }

    [Fact]
    public async Task an_erasure_of_a_recipient_only_a_step_not_started_names_ends_its_chain_and_drops_its_params()
    {
        var idle = await IdleAdapterAsync();
        var recipient = $"erase-{Guid.NewGuid():N}@example.test";
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[]
            {
                new { adapter = idle.Name, @params = new { to = "bob@example.test", subject = "Code", text = "1234" },
                      fallback = new[] { new { adapter = System.Email.Name, @params = new { to = recipient, subject = "Code", text = "1234" } } }, fallbackAfterSeconds = 3600 },
            },
        });

        var result = await System.SendAsync<JsonElement>(HttpMethod.Post, "/admin/erasures", SystemFixture.AdminKey, new { recipient }, expect: 200);

        Assert.Equal(0, result.GetProperty("erased").GetInt32()); // no job holds it: only the step kept on the offer
        var view = await OfferAsync(offer.Id);
        Assert.Equal("Erased", view.GetProperty("chains")[0].GetProperty("outcome").GetString());
        await using var session = System.Core.Services.GetRequiredService<Marten.IDocumentStore>().QuerySession();
        var stored = await session.LoadAsync<Offer>(offer.Id);
        Assert.All(stored!.Chains![0].Steps, step => Assert.Null(step.Params));
        Assert.Equal(JobState.Queued, (await session.LoadAsync<Job>(offer.Jobs[0].Id))!.State); // the first step's job is not the recipient's
    }

    [Fact]
    public async Task the_timer_and_the_end_of_a_step_firing_together_start_the_next_step_once()
    {
        var idle = await IdleAdapterAsync();
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new[] { new { adapter = idle.Name, @params = new { to = "ann@example.test", subject = "Code", text = "1234" }, fallback = new[] { Email(System.Email.Name) } } },
        });
        var firstJob = offer.Jobs[0].Id;
        async Task Publish(bool timer)
        {
            using var scope = System.Core.Services.CreateScope();
            await scope.ServiceProvider.GetRequiredService<IMessageBus>().PublishAsync(new StartFallbackStep(offer.Id, firstJob, 1, timer));
        }

        // The timer twice (a redelivery) and the job's end, at once, on the core's parallel local queue.
        var session = await System.TrackAsync(() => Task.WhenAll(Publish(timer: true), Publish(timer: true), Publish(timer: false)),
            new Handled<StartFallbackStep>(m => m.JobId == firstJob, count: 3));

        var stepJob = FallbackChains.StepJobId(firstJob, 1);
        // The first job's own delivery, sent after the offer's response, may fall into the session too (once at most).
        var sent = System.SentByCore<DeliverJob>(session).Select(d => d.JobId).ToList();
        Assert.Single(sent, stepJob);
        Assert.InRange(sent.Count(id => id == firstJob), 0, 1);
        Assert.Equal(sent.Count, sent.Count(id => id == stepJob || id == firstJob));
        var view = await OfferAsync(offer.Id);
        Assert.Equal(2, view.GetProperty("jobs").GetArrayLength());
        Assert.Equal(stepJob, Step(view, 1).GetProperty("jobId").GetGuid());
        Assert.Single(await System.EventTypesAsync(System.Tenant, firstJob), t => t == "JobFellBack");
        Assert.Equal(["JobQueued", "JobFallbackStarted"], (await System.EventTypesAsync(System.Tenant, stepJob)).Take(2));
        // The step is delivered once. Waited for here, too: an email still on its way when the test ends would reach the next
        // test's sink (the tests that expect none failed on it, depending on their order).
        await WaitForStepAsync(offer.Id, 1, s => s.GetProperty("state").GetString() == "Finished", "the step to be delivered");
        Assert.Single(System.Smtp.Received, m => m.Headers["X-Notification-Job"] == stepJob.ToString());
    }

    [Fact]
    public async Task invalid_steps_are_refused_with_their_paths()
    {
        object Target(object fallback, int? after = 60, string? adapter = null) =>
            new { adapter = adapter ?? System.Email.Name, @params = new { to = "ann@example.test", subject = "s", text = "t" }, fallback, fallbackAfterSeconds = after };
        var cases = new (object Offer, string Path, string Says)[]
        {
            (new { targets = new[] { Target(new object[] { Email(System.Email.Name), new { adapter = "no-such-adapter", @params = new { } } }) } }, "targets[0].fallback[1].adapter", "No adapter named"),
            (new { targets = new[] { Target(new object[] { Email(System.Email.Name), new { adapter = System.Email.Name, @params = new { subject = "s", text = "t" } } }) } }, "targets[0].fallback[1].params.to", ""),
            (new { targets = new[] { Target(new object[] { new { adapter = System.Email.Name, template = "order-shipped", data = new { } } }) } }, "targets[0].fallback[0].template", "No template 'order-shipped' is available to this service."),
            (new { targets = new[] { Target(new object[] { Email(System.Email.Name) }, after: 0) } }, "targets[0].fallbackAfterSeconds", "From 1 to 604800"),
            (new { targets = new[] { Target(new object[] { Email(System.Email.Name) }, after: 604_801) } }, "targets[0].fallbackAfterSeconds", "From 1 to 604800"),
            (new { targets = new[] { Target(Array.Empty<object>(), after: 30) } }, "targets[0].fallbackAfterSeconds", "Only with a fallback step"),
            (new { targets = new[] { Target(Enumerable.Repeat(Email(System.Email.Name), 6).ToArray()) } }, "targets[0].fallback", "At most 5 steps"),
        };
        foreach (var (offer, path, says) in cases)
        {
            var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, offer);
            Assert.True(status == 422, $"{path}: {status} {body}");
            var errors = body.GetProperty("errors");
            Assert.True(errors.TryGetProperty(path, out var messages), $"{path} not in {errors}");
            Assert.Contains(says, messages[0].GetString());
        }
        Assert.Equal(0L, await Sql.ScalarAsync<long>("SELECT count(*) FROM ns.mt_doc_offer"));
    }
}
