using System.Text;
using NotificationService.Adapters.Webhook;
using NotificationService.Client;

namespace NotificationService.Adapters.Tests.Client;

/// <summary>
/// The client's check of a callback signature, against headers made by the service's own signer (WebhookSender.Sign,
/// which the callbacks sign with too), so the two cannot drift apart.
/// </summary>
public sealed class CallbackSignatureTests
{
    private const string Secret = "whsec_test-secret";
    private const string Body = """{"id":"0b6f3c9e-3f7a-4b8e-9d1a-2c4e6f8a0b1c","type":"job.finished","state":"Finished","error":null,"metadata":{"order":"42 – ü"}}""";
    private static readonly DateTimeOffset SignedAt = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private static string Header(string body = Body, string secret = Secret, DateTimeOffset? at = null)
    {
        var t = (at ?? SignedAt).ToUnixTimeSeconds();
        return $"t={t},v1={WebhookSender.Sign(secret, t, body)}";
    }

    [Fact]
    public void a_body_signed_by_the_service_verifies()
    {
        Assert.True(CallbackSignature.Verify(Header(), Body, Secret, Tolerance, SignedAt.AddSeconds(30)));
        Assert.True(CallbackSignature.Verify(Header(), Encoding.UTF8.GetBytes(Body), Secret, Tolerance, SignedAt.AddSeconds(30)));
    }

    [Fact]
    public void the_clients_own_signer_matches_the_services()
    {
        Assert.Equal(Header(), CallbackSignature.Sign(Body, Secret, SignedAt));
    }

    [Fact]
    public void a_tampered_body_is_rejected()
    {
        var tampered = Body.Replace("job.finished", "job.failed");
        Assert.False(CallbackSignature.Verify(Header(), tampered, Secret, Tolerance, SignedAt));
        Assert.False(CallbackSignature.Verify(Header(), Body + " ", Secret, Tolerance, SignedAt));
    }

    [Fact]
    public void a_wrong_secret_is_rejected()
    {
        Assert.False(CallbackSignature.Verify(Header(), Body, "whsec_other", Tolerance, SignedAt));
        Assert.False(CallbackSignature.Verify(Header(secret: "whsec_other"), Body, Secret, Tolerance, SignedAt));
        Assert.False(CallbackSignature.Verify(Header(), Body, "", Tolerance, SignedAt));
    }

    [Fact]
    public void a_stale_or_future_timestamp_is_rejected_even_with_a_valid_signature()
    {
        Assert.True(CallbackSignature.Verify(Header(), Body, Secret, Tolerance, SignedAt + Tolerance));
        Assert.False(CallbackSignature.Verify(Header(), Body, Secret, Tolerance, SignedAt + Tolerance + TimeSpan.FromSeconds(1)));
        Assert.False(CallbackSignature.Verify(Header(), Body, Secret, Tolerance, SignedAt - Tolerance - TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void a_changed_timestamp_breaks_the_signature()
    {
        var header = Header();
        var t = SignedAt.ToUnixTimeSeconds();
        Assert.False(CallbackSignature.Verify(header.Replace($"t={t}", $"t={t + 1}"), Body, Secret, Tolerance, SignedAt));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("t=,v1=")]
    [InlineData("v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=1795942800")]
    [InlineData("t=abc,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=-1795942800,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=1795942800,v1=zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=1795942800,v1=00")]
    [InlineData("t=999999999999,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("t=99999999999999999999999,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("=1795942800,v1=0000000000000000000000000000000000000000000000000000000000000000")]
    public void a_malformed_header_is_rejected_without_an_exception(string header)
    {
        Assert.False(CallbackSignature.Verify(header, Body, Secret, Tolerance, SignedAt));
    }

    [Fact]
    public void a_header_repeating_its_timestamp_is_rejected()
    {
        var t = SignedAt.ToUnixTimeSeconds();
        Assert.False(CallbackSignature.Verify($"t={t},{Header()}", Body, Secret, Tolerance, SignedAt));
    }

    [Fact]
    public void one_matching_signature_among_several_is_enough_for_a_rotated_secret()
    {
        var t = SignedAt.ToUnixTimeSeconds();
        var header = $"t={t},v1={WebhookSender.Sign("whsec_old", t, Body)},v1={WebhookSender.Sign(Secret, t, Body)}";
        Assert.True(CallbackSignature.Verify(header, Body, Secret, Tolerance, SignedAt));
    }

    [Fact]
    public void the_body_of_a_verified_callback_parses()
    {
        var notification = CallbackNotification.Parse("""
            {"id":"0b6f3c9e-3f7a-4b8e-9d1a-2c4e6f8a0b1c","type":"job.finished","jobId":"7d1c0d2e-8f3a-4c5b-9e6d-1a2b3c4d5e6f",
             "offerId":"1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d","adapter":"email-main","state":"Finished","attempt":1,"sequence":3,
             "occurredAt":"2026-11-30T09:00:00+00:00","error":null,"metadata":{"order":"42"}}
            """);
        Assert.Equal("job.finished", notification.Type);
        Assert.Equal(JobState.Finished, notification.State);
        Assert.Equal(3, notification.Sequence);
        Assert.Equal("42", notification.Metadata!["order"]);
    }
}
