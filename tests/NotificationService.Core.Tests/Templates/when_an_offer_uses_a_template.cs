using System.Diagnostics;
using System.Text.Json;
using NotificationService.Adapters.Telegram;
using NotificationService.Contracts;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Templates;

public sealed class when_an_offer_uses_a_template(SystemFixture system) : IntegrationContext(system)
{
    private static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task each_locale_is_delivered_in_its_language_by_email_and_telegram()
    {
        await using var botApi = await HttpPeer.StartAsync();
        botApi.Reply = _ => new PeerReply(200, """{"ok":true,"result":{"message_id":9,"date":0,"chat":{"id":77,"type":"private"}}}""");
        var telegram = await System.CreateAdapterAsync(UniqueName("tg"), "telegram", new { botToken = "4242:secret-bot-token", apiBaseUrl = botApi.BaseUrl, allowPrivateNetwork = true });
        var telegramWorker = await System.StartWorkerAsync<TelegramSender, TelegramConfig>("telegram", telegram.ApiKey);
        var mail = TemplateApi.UniqueKey("shipped");
        var chat = TemplateApi.UniqueKey("shipped-tg");
        await System.CreateTemplateAsync(System.Tenant, mail, "email", TemplateApi.OrderShippedEmail);
        await System.CreateTemplateAsync(System.Tenant, chat, "telegram", TemplateApi.OrderShippedTelegram);

        OfferAccepted? offer = null;
        await System.TrackAsync(async () => offer = await System.CreateOfferAsync(System.Tenant, new
        {
            targets = new object[]
            {
                new { adapter = System.Email.Name, template = mail, locale = "de-AT", data = new { email = "anna@example.test", name = "Anna <3", order = new { id = 17 } } },
                new { adapter = System.Email.Name, template = mail, locale = "en-GB", data = new { email = "bob@example.test", name = "Bob", order = new { id = 18 } } },
                new { adapter = telegram.Name, template = chat, locale = "de", data = new { chat = 77, order = new { id = 17 } } },
                new { adapter = telegram.Name, template = chat, locale = "fr", data = new { chat = 78, order = new { id = 19 } } },
            },
        }), new Handled<DeliverJob>(m => offer?.Jobs.Any(j => j.Id == m.JobId) == true, count: 4), workers: [System.EmailWorker, telegramWorker]);

        foreach (var job in await Task.WhenAll(offer!.Jobs.Select(j => System.GetJobAsync(System.Tenant, j.Id))))
            Assert.True(job.State == JobState.Finished, $"job {job.Id} is {job.State} after {job.Attempts} attempt(s): {job.LastError}");
        var anna = Assert.Single(System.Smtp.To("anna@example.test"));
        Assert.Equal("Bestellung 17 versandt", anna.Subject);
        Assert.Equal("Hallo Anna <3, Bestellung 17 ist unterwegs.", anna.TextBody?.Trim());
        Assert.Contains("<p>Hallo Anna &lt;3</p>", anna.HtmlBody); // escaped in html only
        Assert.Equal("Order 18 shipped", Assert.Single(System.Smtp.To("bob@example.test")).Subject);
        var texts = botApi.Requests.Select(r => JsonDocument.Parse(r.Body).RootElement)
            .ToDictionary(b => b.GetProperty("chat_id").ToString(), b => b.GetProperty("text").GetString());
        Assert.Equal("Bestellung 17 versandt", texts["77"]);
        Assert.Equal("Order 19 shipped", texts["78"]); // fr has no variant: the default

        var view = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{offer!.Id}", System.Tenant.ApiKey, expect: 200);
        var used = view.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("jobId").GetGuid());
        Assert.Equal(4, used.Count);
        Assert.Equal(("de", 1L), (used[offer.Jobs[0].Id].GetProperty("locale").GetString(), used[offer.Jobs[0].Id].GetProperty("version").GetInt64()));
        Assert.Equal("en", used[offer.Jobs[1].Id].GetProperty("locale").GetString());
        Assert.Equal(chat, used[offer.Jobs[3].Id].GetProperty("key").GetString());
        Assert.Equal("en", used[offer.Jobs[3].Id].GetProperty("locale").GetString());
    }

    [Fact]
    public async Task an_edit_after_accept_changes_neither_the_queued_job_nor_what_is_delivered()
    {
        var key = TemplateApi.UniqueKey("edit");
        await System.CreateTemplateAsync(System.Tenant, key, "email", TemplateApi.OrderShippedEmail);
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            sendAt = DateTimeOffset.UtcNow.AddSeconds(3),
            targets = new[] { new { adapter = System.Email.Name, template = key, locale = "en", data = new { email = "old@example.test", name = "Old", order = new { id = 1 } } } },
        });
        var jobId = Assert.Single(offer.Jobs).Id;

        var edited = await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/templates/{key}", System.Tenant.ApiKey,
            new { variants = new Dictionary<string, object> { ["en"] = new { to = "{{ email }}", subject = "CHANGED", text = "changed" } } }, expect: 200);
        Assert.Equal(2, edited.GetProperty("version").GetInt64());

        var queued = await System.GetJobAsync(System.Tenant, jobId);
        Assert.Equal("Order 1 shipped", queued.Params.GetProperty("subject").GetString());
        var job = await System.WaitForStateAsync(System.Tenant, jobId, JobState.Finished, TimeSpan.FromSeconds(30));
        Assert.Equal("Order 1 shipped", Assert.Single(System.Smtp.To("old@example.test")).Subject);
        var view = await System.SendAsync<JsonElement>(HttpMethod.Get, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey, expect: 200);
        Assert.Equal(1, view.GetProperty("templates")[0].GetProperty("version").GetInt64());
        Assert.Equal(JobState.Finished, job.State);
    }

    [Fact]
    public async Task a_render_error_is_a_422_naming_the_field()
    {
        var key = TemplateApi.UniqueKey("loop");
        await System.CreateTemplateAsync(System.Tenant, key, "email", new Dictionary<string, object>
        {
            ["en"] = new { to = "a@example.test", subject = "s", text = "{% for i in (1..n) %}x{% endfor %}" },
        });
        var watch = Stopwatch.StartNew();
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { new { adapter = System.Email.Name, template = key, data = new { n = 100_000_000 } } } });
        watch.Stop();

        Assert.Equal(422, status);
        var message = Assert.Single(body.GetProperty("errors").GetProperty("targets[0].template.text").EnumerateArray()).GetString();
        Assert.StartsWith("Rendering failed:", message);
        Assert.Contains("steps", message);
        Assert.True(watch.ElapsedMilliseconds < 3000, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task a_rendered_result_that_fails_the_params_schema_is_a_422_at_the_template_field()
    {
        var key = TemplateApi.UniqueKey("bad-to");
        await System.CreateTemplateAsync(System.Tenant, key, "email", TemplateApi.OrderShippedEmail);
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey,
            new { targets = new[] { new { adapter = System.Email.Name, template = key, locale = "de", data = new { email = "not-an-address", order = new { id = 1 } } } } });

        Assert.Equal(422, status);
        var message = Assert.Single(body.GetProperty("errors").GetProperty("targets[0].template.to").EnumerateArray()).GetString();
        // `to` is a oneOf (an address or a list of them): the schema's own words for it, after what rendered it.
        Assert.StartsWith($"Rendered from template '{key}' v1 (de): does not match exactly one", message);
    }

    [Fact]
    public async Task a_template_of_another_type_a_missing_one_or_params_and_template_together_are_422s()
    {
        var key = TemplateApi.UniqueKey("tg-only");
        await System.CreateTemplateAsync(System.Tenant, key, "telegram", TemplateApi.OrderShippedTelegram);
        var (status, body) = await System.SendForStatusAsync(HttpMethod.Post, "/v1/offers", System.Tenant.ApiKey, new
        {
            targets = new object[]
            {
                new { adapter = System.Email.Name, template = key, data = new { chat = 1 } },
                new { adapter = System.Email.Name, template = "no-such-template" },
                new { adapter = System.Email.Name, template = key, @params = new { to = "a@example.test", subject = "s", text = "t" } },
                new { adapter = System.Email.Name, locale = "de" },
            },
        });

        Assert.Equal(422, status);
        var errors = body.GetProperty("errors");
        Assert.Contains("renders telegram params; adapter", errors.GetProperty("targets[0].template")[0].GetString());
        Assert.Contains("No template 'no-such-template'", errors.GetProperty("targets[1].template")[0].GetString());
        Assert.Equal("Give either params or template, not both.", errors.GetProperty("targets[2]")[0].GetString());
        Assert.Equal("is required (or give a template)", errors.GetProperty("targets[3].params")[0].GetString());
    }

    [Fact]
    public async Task new_params_for_a_templated_job_replace_the_rendered_ones_and_the_offer_stops_naming_the_template()
    {
        var key = TemplateApi.UniqueKey("patch");
        await System.CreateTemplateAsync(System.Tenant, key, "email", TemplateApi.OrderShippedEmail);
        var offer = await System.CreateOfferAsync(System.Tenant, new
        {
            sendAt = DateTimeOffset.UtcNow.AddHours(1),
            targets = new[] { new { adapter = System.Email.Name, template = key, data = new { email = "p@example.test", order = new { id = 5 } } } },
        });
        var jobId = Assert.Single(offer.Jobs).Id;

        var patched = await System.SendAsync<JsonElement>(HttpMethod.Patch, $"/v1/offers/{offer.Id}", System.Tenant.ApiKey,
            new { jobs = new[] { new { id = jobId, @params = new { to = "p@example.test", subject = "By hand", text = "t" } } } }, expect: 200);

        Assert.Equal(0, patched.GetProperty("templates").GetArrayLength());
        Assert.Equal("By hand", (await System.GetJobAsync(System.Tenant, jobId)).Params.GetProperty("subject").GetString());
    }
}
